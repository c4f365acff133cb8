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

Examples
--------
>>> m = Mapping.from_dict({"columns": {"claims": {"结算单号": "claim_id"}}})
>>> m.columns["claims"]["结算单号"]
'claim_id'
"""

from __future__ import annotations

import csv
import gzip
import io
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from graphkit.errors import BundleError
from graphkit.schema import TABLE_ORDER

__all__ = ["Mapping", "RawTable", "locate_tables", "read_table", "read_bundle"]

EXTENSIONS = (".parquet", ".csv.gz", ".csv")  # order of preference (spec)


@dataclass
class Mapping:
    """Foreign names → bundle names, per table (see module docstring)."""

    tables: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "Mapping":
        unknown = set(data) - {"tables", "columns", "values"}
        if unknown:
            raise BundleError(f"mapping file: unknown section(s) {sorted(unknown)}; expected tables, columns, values")
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


@dataclass
class RawTable:
    """One table as read: every column as strings (CSV) or native types (Parquet)."""

    name: str
    path: Path
    frame: pd.DataFrame
    row_numbers: np.ndarray  # 1-based data-row number of each frame row (header excluded)
    malformed: list[tuple[int | None, str]]  # (row, text) of rows the CSV parser could not split
    encoding: str | None = None


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


def _open_bytes(path: Path) -> bytes:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            return fh.read()
    return path.read_bytes()


def _header(data: bytes, encoding: str) -> list[str]:
    first = data.split(b"\n", 1)[0]
    text = first.decode(encoding, errors="strict").lstrip("\ufeff").rstrip("\r")
    return next(csv.reader(io.StringIO(text)), [])


def _read_csv(path: Path, table: str, encoding: str | None) -> tuple[pd.DataFrame, list, str]:
    data = _open_bytes(path)
    encodings = [encoding] if encoding else ["utf-8", "gb18030"]
    last_exc: Exception | None = None
    for enc in encodings:
        malformed: list[tuple[int | None, str]] = []

        def on_bad(row: pacsv.InvalidRow) -> str:
            malformed.append((None if row.number is None else row.number - 1, row.text))
            return "skip"

        try:
            header = _header(data, enc)
        except UnicodeDecodeError as exc:
            last_exc = exc
            continue
        if not header or all(not h.strip() for h in header):
            raise BundleError(f"table {table}: file {path.name} has no header row")
        dupes = {h for h in header if header.count(h) > 1}
        if dupes:
            raise BundleError(f"table {table}: file {path.name} repeats column(s) {sorted(dupes)} in its header")
        try:
            tbl = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(
                    encoding=("utf8" if enc == "utf-8" else enc), use_threads=False, block_size=1 << 26
                ),
                parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad),
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.string() for h in header},
                    strings_can_be_null=True,
                    null_values=[""],
                    quoted_strings_can_be_null=True,
                ),
            )
        except UnicodeDecodeError as exc:  # raised while reporting a malformed row in this encoding
            last_exc = exc
            continue
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "UTF-8" in str(exc):
                last_exc = exc
                continue
            raise BundleError(f"table {table}: file {path.name} could not be parsed as CSV: {exc}") from None
        df = tbl.to_pandas(types_mapper=lambda t: pd.StringDtype() if pa.types.is_string(t) else None)
        return df, malformed, enc
    raise BundleError(
        f"table {table}: file {path.name} is neither valid UTF-8 nor GB18030"
        + (f" (tried {encodings}; {last_exc})" if last_exc else "")
    )


def read_table(path: Path, table: str, *, encoding: str | None = None, mapping: Mapping | None = None) -> RawTable:
    """Read one table file and apply the mapping's column and value renames."""
    enc_used = None
    malformed: list = []
    if path.name.endswith(".parquet"):
        try:
            df = pq.read_table(path).to_pandas(
                types_mapper=lambda t: pd.StringDtype() if pa.types.is_string(t) or pa.types.is_large_string(t) else None
            )
        except (pa.ArrowInvalid, OSError) as exc:
            raise BundleError(f"table {table}: file {path.name} is not readable Parquet: {exc}") from None
    else:
        df, malformed, enc_used = _read_csv(path, table, encoding)
    df.columns = [str(c).strip() for c in df.columns]
    if mapping is not None:
        renames = mapping.columns.get(table, {})
        if renames:
            df = df.rename(columns=renames)
            dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
            if dupes:
                raise BundleError(f"table {table}: the mapping file maps several columns to {dupes}")
        for col, vals in mapping.values.get(table, {}).items():
            if col in df.columns:
                df[col] = df[col].astype("string").replace(vals)
    if malformed and all(n is not None for n, _ in malformed):
        bad = np.array(sorted(n for n, _ in malformed))
        total = len(df) + len(bad)
        keep = np.setdiff1d(np.arange(1, total + 1), bad)
        rows = keep
    else:
        rows = np.arange(1, len(df) + 1)
    return RawTable(table, path, df.reset_index(drop=True), rows, malformed, enc_used)


def read_bundle(
    bundle: str | Path, *, encoding: str | None = None, mapping: Mapping | None = None
) -> dict[str, RawTable]:
    """Read every bundle table present in a folder (missing optional tables are simply absent)."""
    return {t: read_table(p, t, encoding=encoding, mapping=mapping) for t, p in locate_tables(bundle, mapping).items()}
