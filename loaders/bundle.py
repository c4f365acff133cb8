"""Reading a claims bundle folder: file discovery, encodings, column/value mapping.

A *mapping file* (TOML) turns a bureau's own export into the bundle's names::

    [tables]                # optional: file stem in the export -> bundle table
    jiesuan = "claims"

    [columns.claims]        # export column -> bundle column
    "结算单号" = "claim_id"
    "就诊类型" = "claim_type"

    [values.claims.claim_type]   # export value -> bundle value
    "门诊" = "outpatient"
    "住院" = "inpatient"
    "药店购药" = "pharmacy"

    [not_personal]          # extra columns (bundle names) that hold no personal data
    patients = ["employer_type"]

Extra columns on ``patients`` and ``contacts`` are personal by default and tokenised on load
(default-deny); ``[not_personal]`` is the one way to keep such a column clear. The contract's own
columns cannot be named there (its personal fields stay personal), nor other tables (their
extra columns are never tokenised).

Examples
--------
>>> m = Mapping.from_dict({"columns": {"claims": {"结算单号": "claim_id"}}})
>>> m.columns["claims"]["结算单号"]
'claim_id'
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from graphkit._fast import pandas_type
from graphkit.errors import BundleError
from graphkit.schema import TABLE_ORDER, TABLES

__all__ = ["Mapping", "RawTable", "TableReader", "WrongEncoding", "locate_tables", "read_table", "read_bundle"]

EXTENSIONS = (".parquet", ".csv.gz", ".csv")  # order of preference (spec)
#: bytes of CSV parsed at a time while streaming (chunks are then cut to whole rows)
CSV_BLOCK_BYTES = 1 << 24


@dataclass
class Mapping:
    """Foreign names → bundle names, per table (see module docstring)."""

    tables: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    #: extra columns of ``patients`` / ``contacts`` declared non-personal (kept clear on load)
    not_personal: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "Mapping":
        unknown = set(data) - {"tables", "columns", "values", "not_personal"}
        if unknown:
            raise BundleError(f"mapping file: unknown section(s) {sorted(unknown)}; expected tables, columns, values, "
                              "not_personal")
        m = cls(
            tables={str(k): str(v) for k, v in data.get("tables", {}).items()},
            columns={t: {str(k): str(v) for k, v in cols.items()} for t, cols in data.get("columns", {}).items()},
            values={
                t: {c: {str(k): str(v) for k, v in vals.items()} for c, vals in cols.items()}
                for t, cols in data.get("values", {}).items()
            },
        )
        for target in list(m.tables.values()) + list(m.columns) + list(m.values):
            if target not in TABLE_ORDER:
                raise BundleError(f"mapping file names unknown bundle table {target!r}; tables are {list(TABLE_ORDER)}")
        m.not_personal = _not_personal(data.get("not_personal", {}))
        return m

    @classmethod
    def load(cls, path: str | Path) -> "Mapping":
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text("utf-8"))
        except FileNotFoundError:
            raise BundleError(f"mapping file {p} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise BundleError(f"mapping file {p} is not valid TOML: {exc}") from None
        return cls.from_dict(data)


def _not_personal(section: dict) -> dict[str, list[str]]:
    """The ``[not_personal]`` section, checked: only extra columns of the tables that hold
    personal data (see the module docstring)."""
    from graphkit.schema import PERSONAL_FIELDS

    out: dict[str, list[str]] = {}
    if not isinstance(section, dict):
        raise BundleError("mapping file: [not_personal] must map a table to a list of column names")
    for table, cols in section.items():
        if table not in PERSONAL_FIELDS:
            raise BundleError(f"mapping file: [not_personal] names table {table!r}; only {sorted(PERSONAL_FIELDS)} hold "
                              "personal data (other tables' extra columns are never tokenised)")
        if not isinstance(cols, list) or not all(isinstance(c, str) and c for c in cols):
            raise BundleError(f"mapping file: [not_personal] {table} must be a list of column names, got {cols!r}")
        spec = set(TABLES[table].column_names)
        named = sorted(c for c in cols if c in spec)
        if named:
            raise BundleError(f"mapping file: [not_personal] {table} names the contract's own column(s) {named}: "
                              "its personal fields stay personal and its other columns are never tokenised")
        out[table] = list(dict.fromkeys(cols))
    return out


@dataclass
class RawTable:
    """One table (or one chunk of it) as read: strings (CSV) or native types (Parquet)."""

    name: str
    path: Path
    frame: pd.DataFrame
    row_numbers: np.ndarray  # 1-based data-row number of each frame row (header excluded)
    malformed: list[tuple[int | None, str]]  # (row, text) of rows the CSV parser could not split
    encoding: str | None = None


class WrongEncoding(Exception):
    """A CSV file turned out not to be in the encoding being tried (raised while streaming)."""


def locate_tables(bundle: str | Path, mapping: Mapping | None = None) -> dict[str, Path]:
    """Map each bundle table name to its file (parquet, then csv.gz, then csv)."""
    root = Path(bundle)
    if not root.is_dir():
        raise BundleError(f"bundle folder {root} does not exist or is not a folder")
    renames = (mapping.tables if mapping else {})
    found: dict[str, Path] = {}
    stems: dict[str, list[str]] = {t: [t] for t in TABLE_ORDER}
    for stem, table in renames.items():
        stems.setdefault(table, []).insert(0, stem)
    for table, candidates in stems.items():
        for ext in EXTENSIONS:
            hit = next((root / f"{s}{ext}" for s in candidates if (root / f"{s}{ext}").is_file()), None)
            if hit is not None:
                found[table] = hit
                break
    return found


def _open_stream(path: Path) -> pa.NativeFile:
    return pa.input_stream(str(path), compression="gzip" if path.name.endswith(".gz") else None)


def _corrupt(table: str, path: Path, exc: BaseException) -> str:
    what = "压缩文件被截断或已损坏 / compressed file is truncated or corrupt" if path.name.endswith(".gz") \
        else "文件无法读取 / file cannot be read"
    return f"table {table}: file {path.name}: {what} ({exc}); 未写入任何内容 / nothing was loaded"


def _first_line(path: Path) -> bytes:
    """The raw bytes of a file's first line (decompressed), without reading the rest."""
    buf = b""
    with _open_stream(path) as fh:
        while b"\n" not in buf:
            block = fh.read(1 << 16)
            if not block:
                break
            buf += block
    return buf.split(b"\n", 1)[0]


#: bytes of a CSV file (decompressed) looked at to tell a declared encoding from UTF-8
ENCODING_SAMPLE_BYTES = 1 << 22


def _sample(path: Path, size: int = ENCODING_SAMPLE_BYTES) -> bytes:
    with _open_stream(path) as fh:
        return fh.read(size)


def check_declared_encoding(data: bytes, declared: str, *, where: str) -> None:
    """Refuse a declared codec that would turn UTF-8 text into mojibake.

    ``data`` (a file's first bytes) holds non-ASCII text that decodes as UTF-8 (a partial
    character at the end is allowed): a legacy codec (GB18030, Latin-9 …) would decode it
    without error but into other characters. Random bytes of a real GB18030 or Latin text
    almost never form valid multi-byte UTF-8, so the check refuses only UTF-8 data.

    >>> try:
    ...     check_declared_encoding("P1,张三".encode("utf-8"), "gb18030", where="t.csv")
    ... except Exception as exc:
    ...     print(str(exc)[:40])
    t.csv: 内容是 UTF-8 文本（如 '张三'），按声明的 gb18030
    >>> check_declared_encoding("张三".encode("gb18030"), "gb18030", where="t.csv")
    >>> check_declared_encoding(b"plain ascii", "latin9", where="t.csv")
    """
    name = codecs.lookup(declared).name
    if name in ("utf-8", "utf-8-sig") or data.isascii():
        return
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return  # not UTF-8: the declared codec may well be right
    m = re.search(r"[^\x00-\x7f]+", text)
    sample = m.group()[:8] if m else ""
    shown = sample.encode("utf-8").decode(declared, errors="replace")
    raise BundleError(
        f"{where}: 内容是 UTF-8 文本（如 {sample!r}），按声明的 {declared} 解码会成为乱码（{shown!r}）；"
        f"请去掉 --encoding 或声明 utf-8 / the file is UTF-8 text (e.g. {sample!r}) but --encoding {declared} "
        f"({name}) was declared: decoding it as {name} would store mojibake ({shown!r}). Drop --encoding or declare utf-8.")


def _header(first: bytes, encoding: str) -> list[str]:
    text = first.decode(encoding, errors="strict").lstrip("\ufeff").rstrip("\r")
    return next(csv.reader(io.StringIO(text)), [])


def _plain(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def _to_pandas(tbl: pa.Table, dates: frozenset[str] = frozenset()) -> pd.DataFrame:
    """A chunk as pandas; dictionary columns decoded, ``dates`` (native date columns the schema
    types as date/datetime) as datetime64 rather than Python ``date`` objects."""
    cols = []
    for name, c in zip(tbl.column_names, tbl.columns):
        if pa.types.is_dictionary(c.type):
            c = c.cast(_plain(c.type))
        if name in dates and (pa.types.is_date32(c.type) or pa.types.is_date64(c.type)):
            c = c.cast(pa.timestamp("s"))
        cols.append(c)
    return pa.Table.from_arrays(cols, names=tbl.column_names).to_pandas(types_mapper=pandas_type)


def _rebatch(batches: Iterator[pa.RecordBatch], rows: int | None, hold_back: str | None) -> Iterator[pa.Table | None]:
    """Regroup record batches into tables of exactly ``rows`` rows (the last one shorter; all
    at once when ``rows`` is None; ``None`` for a table without rows). ``hold_back``: a column whose trailing run of equal values
    moves to the next chunk, so a chunk boundary never splits e.g. one claim's items."""
    pending: list[pa.RecordBatch] = []
    have = 0
    given = False
    for b in batches:
        if b.num_rows == 0:
            continue
        pending.append(b)
        have += b.num_rows
        # cut only with a row to spare, so a trailing run can be seen and held back
        while rows is not None and have > rows:
            tbl = pa.Table.from_batches(pending)
            head, rest = tbl.slice(0, rows), tbl.slice(rows)
            if hold_back is not None and hold_back in head.column_names and rest.num_rows:
                col = head.column(hold_back)
                last = col[rows - 1]
                if last.is_valid and rest.column(hold_back)[0] == last:
                    same = pc.equal(col, last).to_numpy(zero_copy_only=False)
                    run = int(np.argmin(same[::-1])) if not same.all() else rows
                    if 0 < run < rows:
                        head, rest = tbl.slice(0, rows - run), tbl.slice(rows - run)
            yield head.combine_chunks()
            given = True
            pending = rest.to_batches()
            have = rest.num_rows
    if have or not given:
        yield pa.Table.from_batches(pending).combine_chunks() if pending else None  # type: ignore[misc]


class TableReader:
    """Streams one table file of a bundle in chunks of rows (memory-bounded reading).

    ``columns`` are the header after the mapping's renames; ``source_types`` their Arrow
    types (CSV: all strings). :meth:`chunks` yields :class:`RawTable` slices whose
    ``row_numbers`` are global (1-based, header excluded), for one ``encoding`` of
    :attr:`encodings` (CSV only; a later candidate is tried when :class:`WrongEncoding` is raised).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "cards.csv"
    >>> _ = p.write_text("card_id,patient_id\\nK1,P1\\nK2,P2\\nK3,P3\\n", "utf-8")
    >>> r = TableReader(p, "cards")
    >>> [c.row_numbers.tolist() for c in r.chunks(2, r.encodings[0])]
    [[1, 2], [3]]
    """

    def __init__(self, path: Path, table: str, *, encoding: str | None = None, mapping: Mapping | None = None) -> None:
        self.path, self.table, self.mapping = Path(path), table, mapping
        self.parquet = self.path.name.endswith(".parquet")
        self.encodings: list[str | None]
        self._headers: dict[str | None, list[str]] = {}
        if self.parquet:
            try:
                schema = pq.read_schema(self.path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise BundleError(f"table {table}: file {self.path.name} is not readable Parquet: {exc}") from None
            raw_names = list(schema.names)
            types = [_plain(f.type) for f in schema]
            self.encodings = [None]
        else:
            try:
                first = _first_line(self.path)
            except (OSError, EOFError) as exc:
                raise BundleError(_corrupt(table, self.path, exc)) from None
            if encoding:
                try:
                    check_declared_encoding(_sample(self.path), encoding, where=f"table {table}: file {self.path.name}")
                except LookupError:
                    raise BundleError(f"unknown encoding {encoding!r} (e.g. utf-8, gb18030)") from None
                except (OSError, EOFError) as exc:
                    raise BundleError(_corrupt(table, self.path, exc)) from None
            self.encodings = []
            for enc in ([encoding] if encoding else ["utf-8", "gb18030"]):
                try:
                    header = _header(first, enc)
                except UnicodeDecodeError:
                    continue
                if not header or all(not h.strip() for h in header):
                    raise BundleError(f"table {table}: file {self.path.name} has no header row")
                dupes = {h for h in header if header.count(h) > 1}
                if dupes:
                    raise BundleError(f"table {table}: file {self.path.name} repeats column(s) {sorted(dupes)} in its header")
                self._headers[enc] = header
                self.encodings.append(enc)
            if not self.encodings:
                tried = [encoding] if encoding else ["utf-8", "gb18030"]
                raise BundleError(f"table {table}: file {self.path.name} is neither valid UTF-8 nor GB18030 (tried {tried})")
            raw_names = self._headers[self.encodings[0]]
            types = [pa.string()] * len(raw_names)
        names = [str(c).strip() for c in raw_names]
        if mapping is not None:
            renames = mapping.columns.get(table, {})
            names = [renames.get(c, c) for c in names]
            dupes = sorted({c for c in names if names.count(c) > 1})
            if dupes and renames:
                raise BundleError(f"table {table}: the mapping file maps several columns to {dupes}")
        self.columns: list[str] = names
        self.source_types: dict[str, pa.DataType] = dict(zip(names, types))

    def _batches(self, chunk_rows: int | None, encoding: str | None, malformed: list) -> Iterator[pa.RecordBatch]:
        if self.parquet:
            try:
                pf = pq.ParquetFile(self.path)
                yield from pf.iter_batches(batch_size=min(chunk_rows or (1 << 16), 1 << 16))
            except (pa.ArrowInvalid, OSError) as exc:
                raise BundleError(f"table {self.table}: file {self.path.name} is not readable Parquet: {exc}") from None
            return
        header = self._headers[encoding]

        def on_bad(row: pacsv.InvalidRow) -> str:
            malformed.append((None if row.number is None else row.number - 1, row.text))
            return "skip"

        try:
            reader = pacsv.open_csv(
                _open_stream(self.path),
                read_options=pacsv.ReadOptions(
                    encoding=("utf8" if encoding == "utf-8" else encoding), use_threads=False, block_size=CSV_BLOCK_BYTES
                ),
                parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad),
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.string() for h in header},
                    strings_can_be_null=True,
                    null_values=[""],
                    quoted_strings_can_be_null=True,
                ),
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                yield batch
        except UnicodeDecodeError as exc:  # raised while reporting a malformed row in this encoding
            raise WrongEncoding(str(exc)) from None
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "UTF-8" in str(exc):
                raise WrongEncoding(str(exc)) from None
            raise BundleError(f"table {self.table}: file {self.path.name} could not be parsed as CSV: {exc}") from None
        except (OSError, EOFError) as exc:  # a truncated or corrupt .gz: the whole load fails, nothing is written
            raise BundleError(_corrupt(self.table, self.path, exc)) from None

    def chunks(self, chunk_rows: int | None, encoding: str | None, *, hold_back: str | None = None) -> Iterator[RawTable]:
        """Yield the table in chunks of ``chunk_rows`` rows (``None``: whole), at least one chunk."""
        malformed: list[tuple[int | None, str]] = []
        reported = 0
        done = 0  # good rows yielded so far
        raw_hold = None
        if hold_back is not None:  # the file's own name of that column
            raw_hold = next((r for r, n in zip(self._raw_names(encoding), self.columns) if n == hold_back), None)
        spec = TABLES.get(self.table)
        dates = frozenset(
            r for r, n in zip(self._raw_names(encoding), self.columns)
            if spec is not None and n in spec.column_names and spec.column(n).type in ("date", "datetime")
        )
        for tbl in _rebatch(self._batches(chunk_rows, encoding, malformed), chunk_rows, raw_hold):
            if tbl is None:
                tbl = pa.table({c: pa.array([], t) for c, t in zip(self._raw_names(encoding), self.source_types.values())})
            df = _to_pandas(tbl, dates)
            df.columns = self.columns
            if self.mapping is not None:
                for col, vals in self.mapping.values.get(self.table, {}).items():
                    if col in df.columns:
                        df[col] = df[col].astype("string").replace(vals)
            n = len(df)
            known = [m for m, _ in malformed if m is not None]
            if known and len(known) == len(malformed):
                bad = np.sort(np.asarray(known, dtype=np.int64))
                g = np.arange(done, done + n, dtype=np.int64)
                rows = g + 1 + np.searchsorted(bad - np.arange(len(bad)), g + 1, side="right")
            else:
                rows = np.arange(done + 1, done + n + 1, dtype=np.int64)
            new_bad = malformed[reported:]
            reported = len(malformed)
            done += n
            yield RawTable(self.table, self.path, df, rows, list(new_bad), None if self.parquet else encoding)
        if len(malformed) > reported:  # reported after the last rows (a malformed last line)
            empty = _to_pandas(pa.table({c: pa.array([], t) for c, t in zip(self._raw_names(encoding), self.source_types.values())}))
            empty.columns = self.columns
            yield RawTable(self.table, self.path, empty, np.zeros(0, np.int64), list(malformed[reported:]), encoding)

    def _raw_names(self, encoding: str | None) -> list[str]:
        if self.parquet:
            return list(pq.read_schema(self.path).names)
        return self._headers[encoding]


def read_table(path: Path, table: str, *, encoding: str | None = None, mapping: Mapping | None = None) -> RawTable:
    """Read one whole table file and apply the mapping's column and value renames."""
    reader = TableReader(path, table, encoding=encoding, mapping=mapping)
    last: Exception | None = None
    for enc in reader.encodings:
        try:
            parts = list(reader.chunks(None, enc))
        except WrongEncoding as exc:
            last = exc
            continue
        frame = pd.concat([p.frame for p in parts], ignore_index=True) if len(parts) > 1 else parts[0].frame
        rows = np.concatenate([p.row_numbers for p in parts])
        return RawTable(table, Path(path), frame, rows, [m for p in parts for m in p.malformed], None if reader.parquet else enc)
    tried = [encoding] if encoding else ["utf-8", "gb18030"]
    raise BundleError(f"table {table}: file {Path(path).name} is neither valid UTF-8 nor GB18030 (tried {tried}; {last})")


def read_bundle(
    bundle: str | Path, *, encoding: str | None = None, mapping: Mapping | None = None
) -> dict[str, RawTable]:
    """Read every bundle table present in a folder (missing optional tables are simply absent)."""
    return {t: read_table(p, t, encoding=encoding, mapping=mapping) for t, p in locate_tables(bundle, mapping).items()}
