"""The embedded default store: typed Parquet files plus a manifest, no server needed.

Layout of a store folder::

    manifest.json           schema version, row counts, fingerprint, load history
    gen-<n>/<table>.parquet one generation of typed columnar tables
    quarantine/             rows set aside by lenient loads, with reasons

Writes are atomic: a new generation is written completely and fsynced, then
``manifest.json`` is replaced in one ``os.replace``. A crash leaves the previous
manifest pointing at the previous, complete generation. :class:`GenerationWriter`
writes a generation table by table, a table whole or streamed in row groups
(:class:`TableWriter`); a table's fingerprint is the sorted multiset of its row hashes,
so it can be computed chunk by chunk (:func:`row_hashes`, :func:`fingerprint_from_hashes`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..allocator import release_arrow

from .._failpoints import failpoint
from .._fast import combine_hashes, pandas_type, string_hash
from ..errors import StoreError
from ..schema import SCHEMA_VERSION, TABLES
from .base import Store, with_claim_id
from .lock import GenerationPin, try_remove_generation, writer_lock

__all__ = [
    "EmbeddedStore",
    "GenerationWriter",
    "TableWriter",
    "STORE_FORMAT",
    "table_fingerprint",
    "store_fingerprint",
    "row_hashes",
    "column_hash",
    "fingerprint_from_hashes",
    "to_frame",
]

STORE_FORMAT = "graphkit.store/v1"
_ORDER = {name: i for i, name in enumerate(TABLES)}  # tables are listed in dependency order


def _canonical(s: pd.Series) -> pd.Series:
    """One representation per logical type, so equal content hashes equally whatever the dtype."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.astype("datetime64[s]").astype("int64").where(s.notna(), -(2**63))
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        return s
    return s.astype("string[pyarrow]")


def column_hash(s: pd.Series) -> np.ndarray:
    """uint64 hash of each value of one column, as the fingerprint sees it (canonical form)."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        return string_hash(s)
    return pd.util.hash_pandas_object(_canonical(s), index=False).to_numpy()


def row_hashes(df: pd.DataFrame, known: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """uint64 hash of each row's content (columns in name order), the unit of :func:`table_fingerprint`.

    ``known``: column hashes already computed (by :func:`column_hash`) for some columns.
    Equal to ``pd.util.hash_pandas_object`` of the canonical frame, so a table hashed in
    chunks gives the same multiset of row hashes as hashed whole.

    >>> df = pd.DataFrame({"b": pd.Series(["x", None], dtype="string"), "a": [1.5, None]})
    >>> canon = pd.DataFrame({c: _canonical(df[c]) for c in sorted(df.columns)})
    >>> bool((row_hashes(df) == pd.util.hash_pandas_object(canon, index=False).to_numpy()).all())
    True
    """
    known = known or {}
    cols = sorted(df.columns)
    return combine_hashes([known[c] if c in known else column_hash(df[c]) for c in cols], len(df))


def fingerprint_from_hashes(columns: Sequence[str], hashes: np.ndarray) -> str:
    """A table's fingerprint from its column names and the row hashes of all its rows (any order)."""
    h = hashlib.sha256()
    h.update(json.dumps(sorted(columns)).encode())
    h.update(str(len(hashes)).encode())
    if len(hashes):
        h.update(np.sort(np.asarray(hashes, dtype=np.uint64)).tobytes())
    return h.hexdigest()


def table_fingerprint(df: pd.DataFrame) -> str:
    """Order-independent sha256 of a table's content (column names + row values).

    >>> a = pd.DataFrame({"k": pd.Series(["x", "y"], dtype="string"), "v": [1.0, 2.0]})
    >>> table_fingerprint(a) == table_fingerprint(a.iloc[::-1])
    True
    """
    return fingerprint_from_hashes(list(df.columns), row_hashes(df) if len(df) else np.zeros(0, np.uint64))


def store_fingerprint(table_prints: dict[str, str]) -> str:
    h = hashlib.sha256(SCHEMA_VERSION.encode())
    for name in sorted(table_prints):
        h.update(name.encode() + b"=" + table_prints[name].encode())
    return h.hexdigest()


def _write_manifest(root: Path, manifest: dict) -> None:
    """Replace ``root/manifest.json`` atomically and durably (temp file, fsync, rename, fsync dir)."""
    tmp = root / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, root / "manifest.json")
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EmbeddedStore(Store):
    """A store folder on local disk (see module docstring).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> d = tempfile.mkdtemp()
    >>> EmbeddedStore.write(d, {"institutions": pd.DataFrame({"institution_id": ["H1"]})})
    >>> EmbeddedStore(d).row_counts()
    {'institutions': 1}
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._pin: GenerationPin | None = None
        for _attempt in range(100):
            self.manifest: dict[str, Any] = self._read_manifest()
            gen = self.manifest.get("generation")
            if not gen:
                break
            try:  # pin the generation, then make sure it is still the live one
                pin = GenerationPin(self.path / gen)
            except FileNotFoundError:  # replaced (and removed) since the manifest was read
                continue
            if self._read_manifest().get("generation") == gen:
                self._pin = pin
                break
            pin.release()
        else:
            raise StoreError(f"store {self.path} keeps changing; could not open a consistent generation")
        self.fingerprint = self.manifest["fingerprint"]
        self._cache: dict[tuple[str, tuple[str, ...] | None], pd.DataFrame] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled as its folder and manifest: a copy in another process (a scan's worker) reads the
        same generation, pinned there too; caches stay behind."""
        return {"path": self.path, "manifest": self.manifest}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self.manifest = Path(state["path"]), state["manifest"]
        self.fingerprint = self.manifest["fingerprint"]
        self._cache = {}
        self._pin = None
        gen = self.manifest.get("generation")
        if gen:
            try:
                self._pin = GenerationPin(self.path / gen)
            except FileNotFoundError:
                raise StoreError(f"store {self.path}: generation {gen} is gone (replaced by a later load)") from None

    def _read_manifest(self) -> dict[str, Any]:
        try:
            manifest = json.loads((self.path / "manifest.json").read_text("utf-8"))
        except FileNotFoundError:
            raise StoreError(f"no store at {self.path} (missing manifest.json)") from None
        except json.JSONDecodeError as exc:
            raise StoreError(f"store manifest {self.path / 'manifest.json'} is corrupt: {exc}") from None
        if manifest.get("format") != STORE_FORMAT:
            raise StoreError(f"store {self.path} has format {manifest.get('format')!r}; expected {STORE_FORMAT!r}")
        return manifest

    def release(self) -> None:
        """Unpin this object's generation (it is read no more); remove it if it is no longer live."""
        if self._pin is None:
            return
        gen_dir = self._pin.gen_dir
        self._pin.release()
        self._pin = None
        try:
            live = json.loads((self.path / "manifest.json").read_text("utf-8")).get("generation")
        except (OSError, ValueError):
            return
        if live and gen_dir.name != live:
            try_remove_generation(gen_dir)

    # -- reading -----------------------------------------------------------------------
    def profile(self) -> dict[str, Any]:
        """The data profile stored in the manifest at load (computed, not written, when an
        older manifest lacks it or it belongs to other content)."""
        stored = self.manifest.get("data_profile")
        if stored and stored.get("fingerprint") == self.fingerprint:
            return stored
        return super().profile()

    def save_profile(self, profile: dict[str, Any] | None = None) -> dict[str, Any]:
        """Compute the data profile (unless given) and store it in the manifest (atomic replace)."""
        from ..profile import data_profile

        from .lock import StoreBusy

        profile = profile if profile is not None else data_profile(self)
        self._data_profile = profile
        try:  # a cache: skipped when a writer is busy or has replaced the generation meanwhile
            with writer_lock(self.path, what="save data profile"):
                if self._read_manifest().get("generation") != self.manifest.get("generation"):
                    return profile
                manifest = {**self.manifest, "data_profile": profile}
                _write_manifest(self.path, manifest)
                self.manifest = manifest
        except (StoreBusy, PermissionError):
            pass
        return profile

    def has_table(self, name: str) -> bool:
        return name in self.manifest["tables"]

    def row_counts(self) -> dict[str, int]:
        return {k: v["rows"] for k, v in self.manifest["tables"].items()}

    def columns(self, name: str) -> list[str]:
        """Column names stored for a table (spec columns then extra ones)."""
        if not self.has_table(name):
            return list(TABLES[name].column_names) if name in TABLES else []
        return list(self.manifest["tables"][name]["columns"])

    def table(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        key = (name, None if columns is None else tuple(columns))
        if key in self._cache:
            return self._cache[key]
        if not self.has_table(name):
            if name not in TABLES:
                raise StoreError(f"unknown table {name!r}")
            cols = list(columns) if columns is not None else list(TABLES[name].column_names)
            df = _empty_typed(name, cols)
        else:
            info = self.manifest["tables"][name]
            stored = info["columns"]
            want = list(columns) if columns is not None else stored
            df = self._read(name, want)
        if name in ("institutions", "pharmacies", "doctors", "patients", "cards", "referrals", "contacts", "regions"):
            self._cache[key] = df  # small dimension tables are worth caching
        return df

    def _read(self, name: str, want: Sequence[str], filters: Any = None) -> pd.DataFrame:
        """Columns ``want`` of a stored table (absent ones all null), rows matching ``filters``."""
        info = self.manifest["tables"][name]
        present = [c for c in want if c in info["columns"]]
        df = to_frame(pq.read_table(self.path / info["file"], columns=present, filters=filters))
        release_arrow()
        for c in want:
            if c not in df.columns:
                df[c] = _empty_typed(name, [c])[c].reindex(range(len(df)))
        return df[list(want)]

    def table_where(self, name: str, columns: Sequence[str], where: Any) -> pd.DataFrame:
        """Rows matching ``where`` (see :meth:`Store.table_where`), filtered in Arrow row group by
        row group: only the matching rows of the wanted columns are ever converted or held.

        >>> import tempfile, pandas as pd
        >>> d = tempfile.mkdtemp()
        >>> EmbeddedStore.write(d, {"claims": pd.DataFrame({"claim_id": ["C1", "C2", "C3"],
        ...     "claim_type": ["inpatient", "outpatient", "inpatient"], "institution_id": ["H1", "H1", None]})})
        >>> EmbeddedStore(d).table_where("claims", ["claim_id"], [("claim_type", "==", "inpatient"),
        ...                                                       ("institution_id", "notnull")]).to_dict("records")
        [{'claim_id': 'C1'}]
        """
        from .where import arrow_mask, arrow_value_sets, columns_in, normalize_where

        want = list(columns)
        alts = normalize_where(where)
        if not self.has_table(name) or not columns_in(alts, self.manifest["tables"][name]["columns"]):
            return super().table_where(name, want, where)  # absent table or filter column: all null
        info = self.manifest["tables"][name]
        present = [c for c in want if c in info["columns"]]
        pf = pq.ParquetFile(self.path / info["file"])
        pred = list(dict.fromkeys(c for alt in alts for c, _, _ in alt))
        sets = arrow_value_sets(alts, pf.schema_arrow)
        rest = [c for c in present if c not in pred]
        parts = []
        for g in range(pf.metadata.num_row_groups):
            keys = pf.read_row_group(g, columns=pred)
            hit = arrow_mask(keys, alts, sets)
            if not pc_any(hit):
                continue
            t = keys.filter(hit)
            if rest:  # the other columns of this row group, only where the filter holds
                other = pf.read_row_group(g, columns=rest).filter(hit)
                for c in rest:
                    t = t.append_column(other.schema.field(c), other.column(c))
                del other
            parts.append(t.select(present))
            del keys, hit, t
        schema = pa.schema([pf.schema_arrow.field(c) for c in present])
        table = pa.concat_tables(parts) if parts else schema.empty_table()
        df = to_frame(table)
        del table, parts
        release_arrow()
        for c in want:
            if c not in df.columns:
                df[c] = _empty_typed(name, [c])[c].reindex(range(len(df)))
        return df[want].reset_index(drop=True)

    def _by_claim(self, name: str, claim_ids: Iterable[str], columns: Sequence[str] | None) -> pd.DataFrame:
        """Rows of these claims in stored (claim-id) order, reading only the row groups that can
        hold them: the fact tables are stored in claim-id order with claim-id statistics.

        >>> import tempfile, pandas as pd
        >>> d = tempfile.mkdtemp()
        >>> EmbeddedStore.write(d, {"claims": pd.DataFrame({"claim_id": ["C1", "C2"], "fund_amount": [1.0, 2.0]})})
        >>> EmbeddedStore(d).claims_by_id(["C2", "C9"], ["fund_amount"]).to_dict("records")
        [{'claim_id': 'C2', 'fund_amount': 2.0}]
        """
        ids = sorted(set(map(str, claim_ids)))
        want = with_claim_id(self.columns(name) if columns is None else columns)
        assert want is not None
        if not self.has_table(name) or not ids:
            return _empty_typed(name, want)
        if "claim_id" not in self.manifest["tables"][name]["columns"]:
            return self._read(name, want, filters=[("claim_id", "in", ids)]).reset_index(drop=True)
        # row group by row group, each filtered at once: only the wanted rows are ever held (a
        # filtered whole-table read decodes every row group it cannot rule out before filtering)
        import bisect

        import pyarrow.compute as pc

        info = self.manifest["tables"][name]
        present = [c for c in want if c in info["columns"]]
        pf = pq.ParquetFile(self.path / info["file"])
        ci = pf.schema_arrow.get_field_index("claim_id")
        id_type = pf.schema_arrow.field("claim_id").type
        every = None
        parts = []
        for g in range(pf.metadata.num_row_groups):
            st = pf.metadata.row_group(g).column(ci).statistics
            if st is not None and st.has_min_max and isinstance(st.min, str):
                i, j = bisect.bisect_left(ids, st.min), bisect.bisect_right(ids, st.max)
                if i == j:
                    continue  # no wanted id in this group's range
                value_set = pa.array(ids[i:j], type=id_type)  # only the ids this group can hold
            else:
                every = every if every is not None else pa.array(ids, type=id_type)
                value_set = every
            t = pf.read_row_group(g, columns=present)
            hit = pc.is_in(t.column("claim_id"), value_set=value_set)
            if pc.any(hit).as_py():
                parts.append(t.filter(hit))
            del t, hit
        table = pa.concat_tables(parts) if parts else pf.schema_arrow.empty_table().select(present)
        df = to_frame(table)
        del table, parts
        release_arrow()
        for c in want:
            if c not in df.columns:
                df[c] = _empty_typed(name, [c])[c].reindex(range(len(df)))
        return df[list(want)].reset_index(drop=True)

    def table_codes(self, name: str, columns: Sequence[str]) -> dict[str, pd.Categorical]:
        """See :meth:`Store.table_codes`: a column of few distinct values read with
        ``read_dictionary`` (one dictionary per row group, unified: about 4 bytes a row, no string
        per row), one of many read as strings and encoded in Arrow."""
        info = self.manifest["tables"].get(name) if self.has_table(name) else None
        if info is None:
            return super().table_codes(name, columns)
        pf = pq.ParquetFile(self.path / info["file"])
        schema = pf.schema_arrow
        strings = [c for c in columns if c in info["columns"] and _is_text(schema.field(c).type)]
        # a column of few distinct values (providers, terminals, diagnoses) is read as Parquet's
        # dictionaries; one of many (people, cards: a dictionary per row group nearly as large as
        # its strings, then unified) is read as strings and factorized, which is quicker and leaner
        coded = [c for c in strings if pf.metadata.num_row_groups == 0 or _few_values(pf, c)]
        out = super().table_codes(name, [c for c in columns if c not in coded]) if len(coded) < len(columns) else {}
        if coded:
            t = pq.read_table(self.path / info["file"], columns=coded, read_dictionary=coded, use_threads=False).unify_dictionaries()
            for c in coded:
                chunks = t.column(c).chunks
                values = chunks[0].dictionary if chunks else pa.array([], pa.string())
                codes = np.concatenate([np.asarray(_filled(ch.indices), dtype=np.int32) for ch in chunks]) \
                    if chunks else np.zeros(0, np.int32)
                cats = pd.Index(np.asarray(values.to_numpy(zero_copy_only=False), dtype=object), dtype=object)
                out[c] = pd.Categorical.from_codes(codes, categories=cats, validate=False)
            del t
        release_arrow()
        return {c: out[c] for c in columns}

    def table_rows(self, name: str, columns: Sequence[str], rows: np.ndarray) -> pd.DataFrame:
        """See :meth:`Store.table_rows`: the row groups holding ``rows`` read one at a time, each
        reduced to its wanted rows at once."""
        want = list(columns)
        rows = np.asarray(rows, dtype=np.int64)
        if not self.has_table(name):
            return super().table_rows(name, want, rows)
        info = self.manifest["tables"][name]
        pf = pq.ParquetFile(self.path / info["file"])
        n = pf.metadata.num_rows
        if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= n):
            raise IndexError(f"table {name!r} has {n} rows; asked for row {int(rows.min()) if rows.min() < 0 else int(rows.max())}")
        present = [c for c in want if c in info["columns"]]
        uniq, inv = np.unique(rows, return_inverse=True)
        starts = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
        cuts = np.searchsorted(uniq, starts)  # the wanted rows of group g: uniq[cuts[g]:cuts[g + 1]]
        parts = []
        if present:
            for g in range(pf.num_row_groups):
                a, b = int(cuts[g]), int(cuts[g + 1])
                if a < b:
                    part = pf.read_row_group(g, columns=present)
                    parts.append(part.take(pa.array(uniq[a:b] - starts[g])))
                    del part
        schema = pa.schema([pf.schema_arrow.field(c) for c in present])
        table = pa.concat_tables(parts) if parts else schema.empty_table()
        df = to_frame(table.take(pa.array(inv.reshape(-1))) if present else table)
        del table, parts
        release_arrow()
        for c in want:
            if c not in df.columns:
                df[c] = _empty_typed(name, [c])[c].reindex(range(rows.size))
        return df[want].reset_index(drop=True)

    def table_file(self, name: str) -> Path:
        """Path of a stored table's Parquet file."""
        return self.path / self.manifest["tables"][name]["file"]

    def iter_table(self, name: str, columns: Sequence[str] | None = None, *, batch_rows: int = 1 << 20) -> Iterator[pa.Table]:
        """Stream a stored table as Arrow tables of ``batch_rows`` rows (the last one fewer), in
        stored order. Read row group by row group: ``ParquetFile.iter_batches`` keeps a few MB
        per batch until the iteration ends (a few hundred MB over a 10M-row table).

        >>> import tempfile, pandas as pd
        >>> d = tempfile.mkdtemp()
        >>> EmbeddedStore.write(d, {"claims": pd.DataFrame({"claim_id": ["C1", "C2", "C3"], "fund_amount": [1.0, 2.0, 3.0]})})
        >>> [t.column("fund_amount").to_pylist() for t in EmbeddedStore(d).iter_table("claims", ["fund_amount"], batch_rows=2)]
        [[1.0, 2.0], [3.0]]
        """
        if not self.has_table(name):
            return
        pf = pq.ParquetFile(self.table_file(name))
        cols = None if columns is None else [c for c in columns if c in self.manifest["tables"][name]["columns"]]
        buf: list[pa.Table] = []
        rows = 0
        for g in range(pf.num_row_groups):
            t = pf.read_row_group(g, columns=cols)
            buf.append(t)
            rows += t.num_rows
            while rows >= batch_rows:
                whole = pa.concat_tables(buf) if len(buf) > 1 else buf[0]
                yield whole.slice(0, batch_rows)
                rest = whole.slice(batch_rows)
                buf, rows = ([rest] if rest.num_rows else []), rest.num_rows
                del whole
        if rows:
            yield pa.concat_tables(buf) if len(buf) > 1 else buf[0]

    # -- writing -----------------------------------------------------------------------
    @classmethod
    def write(
        cls,
        path: str | Path,
        tables: dict[str, pd.DataFrame],
        *,
        meta: dict[str, Any] | None = None,
        fingerprints: dict[str, str] | None = None,
    ) -> None:
        """Atomically replace the store content at ``path`` with ``tables``.

        ``fingerprints``: content fingerprints already computed for some of the tables.
        """
        gen = GenerationWriter(path)
        try:
            for name, df in tables.items():
                gen.add_table(name, df, fingerprint=(fingerprints or {}).get(name))
            gen.commit(meta)
        except BaseException:
            gen.close_files()
            gen._unlock()
            raise


#: rows per Parquet row group: small enough that a lookup by claim id reads a few of them
ROW_GROUP_ROWS = 1 << 17
#: string columns that get min/max statistics: the sort key of the fact tables (both are stored
#: in claim-id order), so that :meth:`EmbeddedStore.claims_by_id` and
#: :meth:`EmbeddedStore.items_by_claim` skip the row groups that cannot hold a wanted id
KEYED_STRING_COLUMNS = ("claim_id",)


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """The store's Parquet settings: zstd; min/max statistics for non-string columns and the
    claim-id key (other string statistics are read by nothing and cost write time)."""
    stats = [f.name for f in schema
             if f.name in KEYED_STRING_COLUMNS or not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
    return pq.ParquetWriter(path, schema, compression="zstd", write_statistics=stats or False)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, order and types (missing columns all null)."""
    if table.schema.equals(schema):
        return table
    cols = []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            cols.append(col if col.type == f.type else col.cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


class TableWriter:
    """Streams one table of a new generation into its Parquet file (see :class:`GenerationWriter`).

    Rows are hashed as they are written (unless the caller gives the fingerprint at
    :meth:`close`), so the table's fingerprint never needs the whole table in memory.
    """

    def __init__(self, gen: "GenerationWriter", name: str, schema: pa.Schema, *, path: Path | None = None) -> None:
        self.gen, self.name, self.schema = gen, name, schema
        self.path = path or gen.dir / f"{name}.parquet"
        self.rows = 0
        self._hashes: list[np.ndarray] = []
        self._writer: pq.ParquetWriter | None = _parquet_writer(self.path, schema)
        gen._open.append(self)

    def write(self, table: pa.Table, hashes: np.ndarray | None = None, *, hash_rows: bool = True) -> None:
        """Append rows. ``hashes``: their :func:`row_hashes` if already known."""
        if table.num_rows == 0:
            return
        table = conform(table, self.schema)
        assert self._writer is not None
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        if hashes is not None:
            self._hashes.append(np.asarray(hashes, np.uint64))
        elif hash_rows:
            self._hashes.append(row_hashes(to_frame(table)))
        self.rows += table.num_rows

    def finish(self) -> None:
        """Close and fsync the file (without registering it as a table of the generation)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            with open(self.path, "rb") as fh:
                os.fsync(fh.fileno())
            if self in self.gen._open:
                self.gen._open.remove(self)

    def close(self, fingerprint: str | None = None) -> str:
        """Finish the file and register the table (``fingerprint``: known content fingerprint)."""
        self.finish()
        if fingerprint is None:
            hashes = np.concatenate(self._hashes) if self._hashes else np.zeros(0, np.uint64)
            if len(hashes) != self.rows:
                raise StoreError(f"table {self.name}: {self.rows} rows written but {len(hashes)} hashed")
            fingerprint = fingerprint_from_hashes(self.schema.names, hashes)
        self._hashes = []
        self.gen._register(self.name, self.path, self.rows, list(self.schema.names), fingerprint)
        return fingerprint


class GenerationWriter:
    """Writes the next generation of a store table by table; :meth:`commit` makes it live.

    Nothing is visible until the manifest swap in :meth:`commit` (one ``os.replace``); a
    crash or an :meth:`abort` before it leaves the previous generation in force.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> gen = GenerationWriter(d)
    >>> w = gen.open_table("institutions", pa.schema([("institution_id", pa.large_string())]))
    >>> w.write(pa.table({"institution_id": pa.array(["H1", "H2"], pa.large_string())}))
    >>> _ = w.close()
    >>> gen.commit({})
    >>> EmbeddedStore(d).row_counts()
    {'institutions': 2}
    """

    def __init__(self, path: str | Path, *, created_root: bool | None = None) -> None:
        self.root = Path(path)
        self.created_root = not self.root.exists() if created_root is None else created_root
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = writer_lock(self.root, what="write a generation")
        self._lock.__enter__()  # released by commit() or abort()
        try:
            self._start()
        except BaseException:
            self._unlock()
            raise

    def _unlock(self) -> None:
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.__exit__(None, None, None)

    def _start(self) -> None:
        old = None
        if (self.root / "manifest.json").exists():
            try:
                old = json.loads((self.root / "manifest.json").read_text("utf-8"))
            except json.JSONDecodeError:
                old = None
        self.number = (old or {}).get("generation_number", 0) + 1
        self.name = f"gen-{self.number:06d}"
        self.dir = self.root / self.name
        if self.dir.exists():  # leftover of a crashed write
            shutil.rmtree(self.dir)
        self.dir.mkdir()
        self.tables: dict[str, Any] = {}
        self._open: list[TableWriter] = []

    def _register(self, name: str, file: Path, rows: int, columns: list[str], fingerprint: str) -> None:
        self.tables[name] = {
            "file": f"{self.name}/{file.name}",
            "rows": int(rows),
            "columns": columns,
            "fingerprint": fingerprint,
        }
        failpoint(f"store_after_table:{name}")

    def open_table(self, name: str, schema: pa.Schema, *, path: Path | None = None) -> TableWriter:
        """A streaming writer for table ``name`` (``path``: another file in the generation folder)."""
        return TableWriter(self, name, schema, path=path)

    def add_table(self, name: str, df: pd.DataFrame, *, fingerprint: str | None = None) -> None:
        """Write a whole table held in memory."""
        arrow = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
        w = self.open_table(name, arrow.schema)
        w.write(arrow, hash_rows=False)
        w.close(fingerprint or table_fingerprint(df))

    def link_table(self, name: str, old: "EmbeddedStore") -> None:
        """Carry a table over unchanged from the current generation (hard link, else a copy)."""
        info = old.manifest["tables"][name]
        src, dst = old.table_file(name), self.dir / f"{name}.parquet"
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
            with open(dst, "rb") as fh:
                os.fsync(fh.fileno())
        self._register(name, dst, info["rows"], list(info["columns"]), info["fingerprint"])

    def close_files(self) -> None:
        """Close any writer still open (after a failure)."""
        for w in list(self._open):
            try:
                if w._writer is not None:
                    w._writer.close()
            except Exception:  # the file is discarded anyway
                pass
            w._writer = None
        self._open.clear()

    def abort(self) -> None:
        """Discard the unfinished generation (and the store folder if this writer created it)."""
        self.close_files()
        try:
            shutil.rmtree(self.root if self.created_root else self.dir, ignore_errors=True)
        finally:
            self._unlock()

    def commit(self, meta: dict[str, Any] | None = None) -> None:
        """Fsync the generation, swap the manifest atomically, then remove older generations."""
        if self._open:
            raise StoreError(f"tables still being written: {[w.name for w in self._open]}")
        for child in self.dir.iterdir():  # scratch files (sorted runs) are not part of a generation
            if child.name not in {Path(t["file"]).name for t in self.tables.values()}:
                child.unlink()
        _fsync_dir(self.dir)
        manifest = {
            "format": STORE_FORMAT,
            "schema_version": SCHEMA_VERSION,
            "generation": self.name,
            "generation_number": self.number,
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "fingerprint": store_fingerprint({n: t["fingerprint"] for n, t in self.tables.items()}),
            "tables": {n: self.tables[n] for n in sorted(self.tables, key=lambda n: (_ORDER.get(n, len(_ORDER)), n))},
            **(meta or {}),
        }
        failpoint("store_before_manifest")
        _write_manifest(self.root, manifest)
        failpoint("store_after_manifest")
        # the new generation is live: remove older ones no reader pins (later commits retry)
        for child in self.root.iterdir():
            if child.is_dir() and child.name.startswith("gen-") and child.name != self.name:
                try_remove_generation(child)
        self._unlock()


def pc_any(mask: pa.Array) -> bool:
    """True when a boolean Arrow mask holds a True."""
    import pyarrow.compute as pc

    return bool(len(mask)) and bool(pc.any(mask).as_py())


def _is_text(t: pa.DataType) -> bool:
    """A string column, of either Arrow width."""
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _few_values(pf: pq.ParquetFile, column: str) -> bool:
    """True when the first row group of ``column`` holds at most one distinct value in 8 rows."""
    first = pf.read_row_group(0, columns=[column], use_threads=False)
    enc = first.column(column).dictionary_encode() if first.num_rows else None
    return enc is None or sum(len(ch.dictionary) for ch in enc.chunks) * 8 <= first.num_rows


def _filled(indices: pa.Array) -> np.ndarray:
    """Dictionary indices as numbers, null as -1."""
    import pyarrow.compute as pc

    return pc.fill_null(indices, -1).to_numpy(zero_copy_only=False)


def to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table of the store as the pandas frame :meth:`EmbeddedStore.table` returns."""
    df = table.to_pandas(types_mapper=pandas_type)
    for c in df.columns:  # Parquet keeps ms; the store's datetimes are second resolution
        if pd.api.types.is_datetime64_any_dtype(df[c]) and df[c].dtype != "datetime64[s]":
            df[c] = df[c].astype("datetime64[s]")
    return df


def _empty_typed(table: str, columns: Sequence[str]) -> pd.DataFrame:
    from ..schema import TABLES

    spec = TABLES.get(table)
    data = {}
    for c in columns:
        typ = "str"
        if spec is not None and c in spec.column_names:
            typ = spec.column(c).type
        data[c] = pd.Series([], dtype=DTYPES[typ])
    return pd.DataFrame(data)


#: pandas dtype for each schema column type
DTYPES: dict[str, str] = {
    "str": "string",
    "int": "Int64",
    "bool": "boolean",
    "date": "datetime64[s]",
    "datetime": "datetime64[s]",
    "decimal": "float64",
    "float": "float64",
}
