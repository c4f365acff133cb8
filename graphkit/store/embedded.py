"""The embedded default store: typed Parquet files plus a manifest, no server needed.

Layout of a store folder::

    manifest.json           schema version, row counts, fingerprint, load history
    gen-<n>/<table>.parquet one generation of typed columnar tables
    quarantine/             rows set aside by lenient loads, with reasons

Writes are atomic: a new generation is written completely and fsynced, then
``manifest.json`` is replaced in one ``os.replace``. A crash leaves the previous
manifest pointing at the previous, complete generation.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .._failpoints import failpoint
from ..errors import StoreError
from ..schema import SCHEMA_VERSION, TABLES
from .base import Store

__all__ = ["EmbeddedStore", "STORE_FORMAT", "table_fingerprint", "store_fingerprint"]

STORE_FORMAT = "graphkit.store/v1"


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


def table_fingerprint(df: pd.DataFrame) -> str:
    """Order-independent sha256 of a table's content (column names + row values)."""
    h = hashlib.sha256()
    cols = sorted(df.columns)
    h.update(json.dumps(cols).encode())
    h.update(str(len(df)).encode())
    if len(df):
        canon = pd.DataFrame({c: _canonical(df[c]) for c in cols})
        rows = pd.util.hash_pandas_object(canon, index=False).to_numpy()
        h.update(np.sort(rows).tobytes())
    return h.hexdigest()


def store_fingerprint(table_prints: dict[str, str]) -> str:
    h = hashlib.sha256(SCHEMA_VERSION.encode())
    for name in sorted(table_prints):
        h.update(name.encode() + b"=" + table_prints[name].encode())
    return h.hexdigest()


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
        try:
            self.manifest: dict[str, Any] = json.loads((self.path / "manifest.json").read_text("utf-8"))
        except FileNotFoundError:
            raise StoreError(f"no store at {self.path} (missing manifest.json)") from None
        except json.JSONDecodeError as exc:
            raise StoreError(f"store manifest {self.path / 'manifest.json'} is corrupt: {exc}") from None
        if self.manifest.get("format") != STORE_FORMAT:
            raise StoreError(
                f"store {self.path} has format {self.manifest.get('format')!r}; expected {STORE_FORMAT!r}"
            )
        self.fingerprint = self.manifest["fingerprint"]
        self._cache: dict[tuple[str, tuple[str, ...] | None], pd.DataFrame] = {}

    # -- reading -----------------------------------------------------------------------
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
            present = [c for c in want if c in stored]
            tbl = pq.read_table(self.path / info["file"], columns=present)
            df = tbl.to_pandas(types_mapper=_types_mapper)
            for c in df.columns:  # Parquet keeps ms; the store's datetimes are second resolution
                if pd.api.types.is_datetime64_any_dtype(df[c]) and df[c].dtype != "datetime64[s]":
                    df[c] = df[c].astype("datetime64[s]")
            for c in want:
                if c not in df.columns:
                    df[c] = _empty_typed(name, [c])[c].reindex(range(len(df)))
            df = df[want]
        if name in ("institutions", "pharmacies", "doctors", "patients", "cards", "referrals", "contacts"):
            self._cache[key] = df  # small dimension tables are worth caching
        return df

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
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        old = None
        if (root / "manifest.json").exists():
            try:
                old = json.loads((root / "manifest.json").read_text("utf-8"))
            except json.JSONDecodeError:
                old = None
        gen_n = (old or {}).get("generation_number", 0) + 1
        gen = f"gen-{gen_n:06d}"
        gen_dir = root / gen
        if gen_dir.exists():  # leftover of a crashed write
            shutil.rmtree(gen_dir)
        gen_dir.mkdir()
        table_info: dict[str, Any] = {}
        prints: dict[str, str] = {}
        for name, df in tables.items():
            file = gen_dir / f"{name}.parquet"
            arrow = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
            pq.write_table(arrow, file, compression="zstd")
            with open(file, "rb") as fh:
                os.fsync(fh.fileno())
            prints[name] = (fingerprints or {}).get(name) or table_fingerprint(df)
            failpoint(f"store_after_table:{name}")
            table_info[name] = {
                "file": f"{gen}/{name}.parquet",
                "rows": int(len(df)),
                "columns": list(df.columns),
                "fingerprint": prints[name],
            }
        _fsync_dir(gen_dir)
        manifest = {
            "format": STORE_FORMAT,
            "schema_version": SCHEMA_VERSION,
            "generation": gen,
            "generation_number": gen_n,
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "fingerprint": store_fingerprint(prints),
            "tables": table_info,
            **(meta or {}),
        }
        failpoint("store_before_manifest")
        tmp = root / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, root / "manifest.json")
        _fsync_dir(root)
        failpoint("store_after_manifest")
        # the new generation is live: remove older ones
        for child in root.iterdir():
            if child.is_dir() and child.name.startswith("gen-") and child.name != gen:
                shutil.rmtree(child, ignore_errors=True)


def _types_mapper(t: pa.DataType):
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype()
    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    if pa.types.is_integer(t):
        return pd.Int64Dtype()
    return None


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
}
