"""Validation of a claims bundle exactly as the spec's Validation section says.

Every problem becomes an *issue* naming table, row (1-based, header excluded), column,
value and rule. Strict mode (default) writes nothing when any issue exists; lenient mode
quarantines the bad rows with their reasons (and, transitively, rows that refer to them)
and keeps the rest.

Tables are streamed in chunks of ``chunk_rows`` rows (default :data:`DEFAULT_CHUNK_ROWS`),
in dependency order, so a bundle larger than memory validates with bounded memory: every
chunk is typed and checked with the same rules; duplicate keys are found across chunks and
references are checked against the keys of the tables before it (held as :class:`KeySet`,
a compact exact set of keys), never against a whole table. Row numbers stay global.

Examples
--------
>>> from loaders.validate import validate_bundle
>>> report = validate_bundle("my-bundle")          # doctest: +SKIP
>>> print(report.format())                          # doctest: +SKIP
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping as MappingT

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphkit._fast import NULL_HASH, KeySet, arrow_strings, string_hash, string_series
from graphkit.errors import BundleError
from graphkit.schema import REQUIRED_TABLES, TABLE_ORDER, TABLES, Table
from graphkit.store.embedded import DTYPES

from .bundle import Mapping, RawTable, TableReader, WrongEncoding, locate_tables

__all__ = [
    "Issue",
    "ValidationReport",
    "validate_bundle",
    "prepare_bundle",
    "stream_bundle",
    "Chunk",
    "Sink",
    "KnownKeys",
    "RULES",
    "DEFAULT_CHUNK_ROWS",
]

#: rows per chunk when streaming a table (``chunk_rows=None``); ``chunk_rows=0`` reads whole tables
DEFAULT_CHUNK_ROWS = 1_000_000

#: rule -> (中文, English)
RULES: dict[str, tuple[str, str]] = {
    "missing_table": ("缺少必需的表", "required table missing"),
    "missing_column": ("缺少必需的列", "required column missing"),
    "malformed_row": ("行的字段数与表头不符", "row does not split into the header's columns"),
    "required_null": ("必填字段为空", "required value is empty"),
    "bad_datetime": ("无法解析的日期时间", "unparseable datetime"),
    "bad_date": ("无法解析的日期", "unparseable date"),
    "bad_number": ("无法解析的金额/数值", "unparseable amount/number"),
    "bad_int": ("无法解析的整数或取值不允许", "not an allowed integer"),
    "bad_bool": ("无法解析的布尔值", "unparseable boolean"),
    "out_of_range": ("日期超出合理范围(1900–2100)", "date outside 1900–2100"),
    "out_of_bounds": ("数值超出允许范围(如纬度±90、经度±180、天数≥0)", "value outside its allowed range (latitude ±90, longitude ±180, days ≥ 0)"),
    "unknown_enum": ("未知的枚举值", "unknown enum value"),
    "negative_amount": ("金额为负数", "negative amount"),
    "duplicate_key": ("主键重复", "duplicate primary key"),
    "dangling_reference": ("引用了不存在的记录", "reference to an unknown record"),
    "end_before_start": ("结束时间早于开始时间", "end_time before start_time"),
    "too_many_decimals": ("金额超过2位小数", "amount with more than 2 decimals (yuan are kept to the fen)"),
    "fund_above_total": ("基金支付(加个人支付)超过总费用", "fund_amount (plus self_amount) above total_amount beyond 0.01"),
    "death_before_birth": ("死亡日期早于出生日期", "death_date before birth_date"),
    "birth_in_future": ("出生日期晚于今天", "birth_date after today"),
    "bad_id": ("编号含控制字符(NUL、换行等)或不成对的引号", "id holds control characters (NUL, newline, …) or unbalanced quotes"),
    "provider_mismatch": (
        "机构/药店字段与结算类型不符(须且仅须填一个)",
        "exactly one of institution_id/pharmacy_id, matching claim_type",
    ),
}

_ISSUE_COLUMNS = ["table", "row", "column", "value", "rule", "message"]
_TRUE = {"true", "t", "1", "yes", "y", "是"}
_FALSE = {"false", "f", "0", "no", "n", "否"}
_MIN_TS = pd.Timestamp("1900-01-01")
_MAX_TS = pd.Timestamp("2100-01-01")
#: a UTC offset after a time of day ("…09:41:00+08:00", "…09:41Z"); group 1 is what stays
_TZ_SUFFIX = r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"


@dataclass(frozen=True)
class Issue:
    """One validation problem."""

    table: str
    row: int | None
    column: str | None
    value: str | None
    rule: str

    @property
    def message(self) -> str:
        zh, en = RULES[self.rule]
        return f"{zh} / {en}"


@dataclass
class ValidationReport:
    """Outcome of validating a bundle: issues plus per-table counts."""

    bundle: str
    issues: pd.DataFrame
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_kept: dict[str, int] = field(default_factory=dict)
    encodings: dict[str, str] = field(default_factory=dict)
    lenient: bool = False

    @property
    def ok(self) -> bool:
        """True when there is no issue at all."""
        return self.issues.empty

    @property
    def quarantined(self) -> dict[str, int]:
        return {t: self.rows_read[t] - self.rows_kept.get(t, 0) for t in self.rows_read}

    def issue_list(self) -> list[Issue]:
        return [
            Issue(
                r.table,
                None if pd.isna(r.row) else int(r.row),
                None if r.column is None or pd.isna(r.column) else r.column,
                None if r.value is None or pd.isna(r.value) else str(r.value),
                r.rule,
            )
            for r in self.issues.itertuples(index=False)
        ]

    def format(self, limit: int = 20) -> str:
        """A readable report (Chinese first, English alongside)."""
        lines = [f"校验报告 / Validation report: {self.bundle}"]
        for t in TABLE_ORDER:
            if t in self.rows_read:
                extra = ""
                if self.lenient:
                    extra = f", 保留/kept {self.rows_kept.get(t, 0)}, 隔离/quarantined {self.quarantined[t]}"
                enc = f" [{self.encodings[t]}]" if self.encodings.get(t) not in (None, "utf-8") else ""
                lines.append(f"  {t}: 读取/read {self.rows_read[t]}{extra}{enc}")
        if self.ok:
            lines.append("通过：没有问题 / OK: no issues")
            return "\n".join(lines)
        lines.append(f"发现 {len(self.issues)} 个问题 / {len(self.issues)} issue(s):")
        counts = self.issues.groupby(["table", "column", "rule"], dropna=False, sort=False).size()
        for (t, c, r), n in counts.items():
            lines.append(f"  {n:>8} × {t}.{c if isinstance(c, str) else '-'}: {RULES[r][0]} / {RULES[r][1]}")
        lines.append("示例 / first issues (table, row, column, value, rule):")
        for r in self.issues.head(limit).itertuples(index=False):
            row = "-" if pd.isna(r.row) else int(r.row)
            val = "" if r.value is None or (isinstance(r.value, float) and np.isnan(r.value)) else repr(r.value)
            lines.append(f"  {r.table} 行/row {row} 列/column {r.column or '-'} 值/value {val}: {r.message}")
        if len(self.issues) > limit:
            lines.append(f"  … 另有 {len(self.issues) - limit} 个 / {len(self.issues) - limit} more (use --report FILE)")
        return "\n".join(lines)

    def to_csv(self, path: str | Path) -> None:
        """The issues as CSV (formula-like values neutralised, see :func:`graphkit.outputs.csv_safe`)."""
        from graphkit.outputs import write_csv

        write_csv(self.issues, path)


class _Collector:
    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, table: str, rows: np.ndarray | Iterable, column: str | None, values, rule: str) -> None:
        rows = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, dtype="float64")
        if rows.size == 0 and column is not None:
            return
        vals = pd.Series(values, dtype="object").astype("string") if values is not None else None
        n = max(rows.size, 1)
        zh, en = RULES[rule]
        self.parts.append(
            pd.DataFrame(
                {
                    "table": table,
                    "row": pd.array(rows if rows.size else [np.nan], dtype="Int64"),
                    "column": column,
                    "value": vals.to_numpy(object) if vals is not None else [None] * n,
                    "rule": rule,
                    "message": f"{zh} / {en}",
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series([], dtype="object") for c in _ISSUE_COLUMNS})
        return pd.concat(self.parts, ignore_index=True)


def _strings(s: pd.Series) -> pd.Series:
    """``s`` as an Arrow-backed ``string`` series (no copy when it already is one)."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        return s
    return s.astype("string")


def _stripped(s: pd.Series) -> pa.Array:
    return pc.utf8_trim_whitespace(arrow_strings(_strings(s)))


def _typed_column(s: pd.Series, typ: str, extra: dict[str, Any] | None = None) -> tuple[pd.Series, np.ndarray, str | None]:
    """Convert a raw column to its schema type; return (typed, bad-mask, rule).

    ``extra``: receives ``"unrounded"``, a decimal column's values before rounding to the fen.

    Arrow parses the common forms (ISO datetimes, plain decimals) in one pass; a chunk
    holding anything else falls back to pandas' more forgiving parsers, so what is accepted
    never depends on chunking.
    """
    present = s.notna().to_numpy()
    if typ == "str":
        arr = _stripped(s)
        empty = pc.equal(arr, "")
        if pc.any(empty).as_py():
            arr = pc.if_else(empty, pa.scalar(None, pa.large_string()), arr)
        return string_series(arr, s.index), np.zeros(len(s), bool), None
    if typ in ("date", "datetime"):
        out = None
        if pd.api.types.is_datetime64_any_dtype(s):
            out = s
        else:
            arr = _stripped(s)
            try:
                ts = pc.cast(arr, pa.timestamp("s"))
                out = pd.Series(ts.to_numpy(zero_copy_only=False), index=s.index)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raw = string_series(arr, s.index)
                try:
                    out = pd.to_datetime(raw, format="ISO8601", errors="coerce")
                except ValueError:  # mixed UTC offsets (e.g. "+08:00" beside naive): keep the wall-clock time
                    raw = raw.str.replace(_TZ_SUFFIX, r"\1", regex=True)
                    out = pd.to_datetime(raw, format="ISO8601", errors="coerce")
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        bad = present & out.isna().to_numpy()
        rule = "bad_date" if typ == "date" else "bad_datetime"
        if out.dtype != "datetime64[s]":
            out = out.astype("datetime64[s]")  # the 1900–2100 range is checked by _check_rows
        if typ == "date":
            out = out.dt.floor("D")
        return out, bad, rule
    if typ in ("decimal", "int", "float"):
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            vals = s.to_numpy("float64", na_value=np.nan)
        else:
            arr = _stripped(s)
            try:
                vals = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                vals = pd.to_numeric(string_series(arr, s.index), errors="coerce").astype("float64").to_numpy("float64", na_value=np.nan)
            vals = vals + 0.0  # "-0" and "-0.00" are plain zero, whichever parser read them
        out = pd.Series(vals, index=s.index, dtype="float64")
        bad = present & ~np.isfinite(vals)
        if typ == "int":
            bad |= present & np.isfinite(vals) & (np.round(vals) != vals)
            return out.round().astype("Int64"), bad, "bad_int"
        if typ == "float":  # a measurement (coordinate): kept as given, not rounded like money
            return out, bad, "bad_number"
        if extra is not None:
            extra["unrounded"] = vals
        return out.round(2), bad, "bad_number"
    if typ == "bool":
        if pd.api.types.is_bool_dtype(s):
            return s.astype("boolean"), np.zeros(len(s), bool), None
        low = _strings(s).str.strip().str.lower()
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        out[low.isin(_TRUE).fillna(False).to_numpy(bool)] = True
        out[low.isin(_FALSE).fillna(False).to_numpy(bool)] = False
        bad = present & out.isna().to_numpy()
        return out, bad, "bad_bool"
    raise ValueError(f"unknown column type {typ!r}")


def _normalise_enum(s: pd.Series, enum: tuple[str, ...]) -> pd.Series:
    if all(e == e.lower() for e in enum):
        return s.str.lower()
    if all(e == e.upper() for e in enum):
        return s.str.upper()
    return s


@dataclass
class Prepared:
    """Typed, validated tables ready to write, plus the report and the quarantined rows."""

    tables: dict[str, pd.DataFrame]
    report: ValidationReport
    quarantine: dict[str, pd.DataFrame]


@dataclass
class Chunk:
    """One validated slice of a table, in bundle order, as handed to a :class:`Sink`."""

    table: str
    frame: pd.DataFrame  # the typed rows that passed
    hashes: dict[str, np.ndarray]  # fingerprint hashes (``column_hash``) already known for columns of ``frame``
    quarantine: pd.DataFrame | None = None  # lenient: the raw rows set aside, with ``_row`` and ``_reason``


class Sink:
    """Receives a bundle table by table, chunk by chunk (this base class keeps nothing)."""

    #: whether :attr:`Chunk.hashes` should be filled (a sink that fingerprints wants them)
    wants_hashes = False
    #: strict mode: whether chunks stop coming after the first issue (a store discards them anyway)
    stops_on_issue = True

    def begin(self, table: str, columns: list[str], source_types: dict[str, pa.DataType]) -> None:
        """A table starts (again, when a CSV file is re-read in another encoding)."""

    def chunk(self, chunk: Chunk) -> None:
        """The next validated chunk of the current table."""

    def end(self, table: str, malformed: pd.DataFrame | None) -> None:
        """The table is complete; ``malformed``: its unsplittable rows (lenient; ``_row``, ``_reason``, ``_text``)."""


class KnownKeys:
    """Primary keys already in the target store, per table, as :class:`KeySet` (built when first needed).

    >>> k = KnownKeys({"cards": pd.Index(["K1", "K2"])})
    >>> k.get("cards").contains(pa.array(["K2", "K3"])).tolist()
    [True, False]
    >>> k.get("patients") is None
    True
    """

    def __init__(self, indexes: MappingT[str, Any] | None = None, loader: Callable[[str], KeySet | None] | None = None) -> None:
        self._indexes = dict(indexes or {})
        self._loader = loader
        self._sets: dict[str, KeySet | None] = {}

    def get(self, table: str) -> KeySet | None:
        if table not in self._sets:
            ks: KeySet | None = None
            if table in self._indexes:
                ks = KeySet()
                ks.add(arrow_strings(pd.Index(self._indexes[table]).dropna().astype("string")))
            elif self._loader is not None:
                ks = self._loader(table)
            self._sets[table] = ks if ks is not None and len(ks) else None
        return self._sets[table]


def _composite(out: pd.DataFrame, cols: tuple[str, ...]) -> pa.Array:
    """One unambiguous string per multi-column key (length-prefixed parts)."""
    colon = pa.scalar(":", pa.large_string())
    parts: list[Any] = []
    for c in cols:
        a = arrow_strings(_strings(out[c]))
        parts += [pc.cast(pc.utf8_length(a), pa.large_string()), colon, a]
    return pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))


class _TableCheck:
    """Validation state of one table while its chunks stream through."""

    def __init__(self, spec: Table, columns: list[str], engine: "_Engine") -> None:
        self.spec, self.engine = spec, engine
        self.issues = _Collector()
        self.missing = [c for c in spec.required_columns if c not in columns]
        for c in self.missing:
            self.issues.add(spec.name, [np.nan], c, None, "missing_column")  # table-level: no row number
        self.fallback = "; ".join(f"{c}: missing_column" for c in self.missing)
        pk = spec.primary_key
        self.all_keys = KeySet() if pk else None  # every typed key: duplicates; strict references
        self.kept_keys = KeySet() if (engine.lenient and len(pk) == 1) else self.all_keys  # what references may use
        self.rows_read = 0
        self.rows_kept = 0
        self.malformed: list[tuple[int | None, str]] = []

    # -- duplicate primary keys, across chunks ----------------------------------------
    def _duplicates(self, out: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """(duplicate mask, fingerprint hash of a single-column key or None)."""
        pk = self.spec.primary_key
        n = len(out)
        notnull = out[list(pk)].notna().all(axis=1).to_numpy()
        keys = arrow_strings(out[pk[0]]) if len(pk) == 1 else _composite(out, pk)
        nn = keys if notnull.all() else keys.filter(pa.array(notnull))
        ks = self.all_keys
        assert ks is not None
        inc = len(nn) < 2 or bool(pc.all(pc.less(nn[:-1], nn[1:])).as_py())
        dup_nn = np.zeros(len(nn), bool)
        if len(nn) and not (inc and ks.strict and (ks.last is None or nn[0].as_py() > ks.last)):
            codes = np.asarray(pc.dictionary_encode(nn).indices.to_numpy(zero_copy_only=False))
            first = np.unique(codes, return_index=True)[1]
            dup_nn[:] = True
            dup_nn[first] = False  # later occurrences within the chunk
            if len(ks):
                dup_nn |= ks.contains(nn)  # occurrences in earlier chunks
        h_nn = string_hash(nn, unique=inc) if (len(pk) == 1 and self.engine.wants_hashes) else None
        ks.add(nn, h_nn)
        dup = np.zeros(n, bool)
        dup[notnull] = dup_nn
        h_all = None
        if h_nn is not None:
            h_all = h_nn if notnull.all() else np.full(n, NULL_HASH, np.uint64)
            if not notnull.all():
                h_all[notnull] = h_nn
        return dup, h_all

    # -- references to earlier tables and to the store --------------------------------
    def _resolve(self, table: str, values: pd.Series, want_hash: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(found mask, fingerprint hash of each value or None) against the keys ``table`` allows."""
        vals = arrow_strings(values)
        found = np.zeros(len(vals), bool)
        hashes = np.full(len(vals), NULL_HASH, np.uint64) if want_hash else None
        for ks in (self.engine.ref_sets.get(table), self.engine.known.get(table)):
            if ks is None or len(ks) == 0:
                continue
            todo = ~found & np.asarray(vals.is_valid().to_numpy(zero_copy_only=False), bool)
            if not todo.any():
                break
            sub = vals if todo.all() else vals.filter(pa.array(todo))
            pos = ks.lookup(sub)
            hit = pos >= 0
            idx = np.flatnonzero(todo)[hit]
            found[idx] = True
            if hashes is not None:
                hashes[idx] = ks.hashes()[pos[hit]]
        return found, hashes

    def process(self, raw: RawTable) -> Chunk:
        spec, issues, t = self.spec, self.issues, self.spec.name
        start = len(issues.parts)
        df, rows = raw.frame, raw.row_numbers
        n = len(df)
        self.rows_read += n + len(raw.malformed)
        for number, text in raw.malformed:
            issues.add(t, [np.nan if number is None else number], None, [text[:200]], "malformed_row")
        self.malformed += raw.malformed
        if self.missing:  # every row is unusable; keep the schema's typed columns (nothing of it is stored)
            empty = pd.DataFrame({c.name: pd.Series([], dtype=DTYPES[c.type]) for c in spec.columns})
            return Chunk(t, empty, {}, self._quarantine(df, rows, np.ones(n, bool), start))
        hashes: dict[str, np.ndarray] = {}
        out, bad = _check_rows(df, rows, spec, issues, self, hashes)
        want = self.engine.wants_hashes
        for ref in spec.references:
            col = out[ref.column]
            found, h = self._resolve(ref.table, col, want)
            self._flag(rows, ref.column, col, col.notna().to_numpy() & ~found, bad)
            if h is not None:
                hashes[ref.column] = h
        if t == "contacts":  # a family link's value is another patient
            fam = (out["kind"] == "family").fillna(False).to_numpy(bool)
            if fam.any():
                dangling = np.zeros(n, bool)
                found, _ = self._resolve("patients", out["value"][fam], False)
                dangling[fam] = ~found  # (an empty family value is reported here too, as before)
                self._flag(rows, "value", out["value"], dangling, bad)
        if t == "budgets":  # a budget names an institution or a pharmacy, depending on provider_type
            dangling = np.zeros(n, bool)
            for ptype, table in (("institution", "institutions"), ("pharmacy", "pharmacies")):
                mine = (out["provider_type"] == ptype).fillna(False).to_numpy(bool)
                if mine.any():
                    found, _ = self._resolve(table, out["provider_id"], False)
                    dangling |= mine & out["provider_id"].notna().to_numpy() & ~found
            self._flag(rows, "provider_id", out["provider_id"], dangling, bad)
        keep = ~bad
        if self.kept_keys is not None and self.kept_keys is not self.all_keys:
            pk = spec.primary_key[0]
            kept_keys = out[pk][keep]
            h = hashes.get(pk)
            self.kept_keys.add(arrow_strings(kept_keys), None if h is None else h[keep])
        if keep.all():
            frame = out
        else:
            frame = out.loc[keep].reset_index(drop=True)
            hashes = {c: h[keep] for c, h in hashes.items()}
        self.rows_kept += len(frame)
        return Chunk(t, frame, hashes, self._quarantine(df, rows, bad, start) if self.engine.lenient else None)

    def _flag(self, rows: np.ndarray, column: str, values: pd.Series, dangling: np.ndarray, bad: np.ndarray) -> None:
        if dangling.any():
            self.issues.add(self.spec.name, rows[dangling], column, values[dangling].to_numpy(object), "dangling_reference")
            bad |= dangling

    def _quarantine(self, df: pd.DataFrame, rows: np.ndarray, mask: np.ndarray, start: int) -> pd.DataFrame | None:
        """The raw rows of this chunk set aside, with their row numbers and reasons."""
        if not self.engine.lenient or not mask.any():
            return None
        q = df.loc[mask].copy()
        q.insert(0, "_row", rows[mask])
        parts = self.issues.parts[start:]
        reasons = pd.concat(parts, ignore_index=True) if parts else None
        if reasons is not None and len(reasons):
            reasons = reasons.sort_values("row", kind="stable").dropna(subset=["row"])
        if reasons is not None and len(reasons):
            text = reasons["column"].fillna("-").astype(str) + ": " + reasons["rule"].astype(str)
            by_row = text.groupby(reasons["row"].astype("int64").to_numpy(), sort=False).agg("; ".join)
        else:
            by_row = pd.Series(dtype="object")
        q.insert(1, "_reason", pd.Series(q["_row"]).map(by_row).astype(object).fillna(self.fallback or "dangling_reference").to_numpy())
        return q.reset_index(drop=True)

    def malformed_frame(self) -> pd.DataFrame | None:
        if not self.malformed:
            return None
        return pd.DataFrame(
            {"_row": [m for m, _ in self.malformed], "_reason": "malformed_row", "_text": [x for _, x in self.malformed]}
        )


def _check_rows(
    df: pd.DataFrame, rows: np.ndarray, spec: Table, issues: _Collector, check: _TableCheck, hashes: dict[str, np.ndarray]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Type one chunk and flag its row-level problems. Returns (typed frame, bad-row mask)."""
    n = len(df)
    bad = np.zeros(n, bool)
    out: dict[str, pd.Series] = {}
    id_columns = set(spec.primary_key) | {r.column for r in spec.references} | {c.name for c in spec.columns if c.name.endswith("_id")}
    for col in spec.columns:
        if col.name not in df.columns:
            out[col.name] = pd.Series(index=df.index, dtype=DTYPES[col.type])  # all null (NaN/NaT/NA)
            continue
        s = df[col.name]
        extra: dict[str, Any] = {}
        typed, bad_type, rule = _typed_column(s, col.type, extra)
        if bad_type.any():
            issues.add(spec.name, rows[bad_type], col.name, s[bad_type].astype("string").to_numpy(), rule)
            bad |= bad_type
        if col.name in AMOUNT_COLUMNS and "unrounded" in extra:
            fen = _excess_decimals(extra["unrounded"]) & ~bad_type
            if fen.any():
                issues.add(spec.name, rows[fen], col.name, s[fen].astype("string").to_numpy(), "too_many_decimals")
                bad |= fen
        if col.type == "str" and (col.name in id_columns) and len(s):
            weird = _bad_ids(typed)
            if weird.any():
                issues.add(spec.name, rows[weird], col.name, _shown(typed[weird]), "bad_id")
                bad |= weird
        if col.type in ("date", "datetime"):  # reported alongside unparseable values, not instead
            rng = ((typed < _MIN_TS) | (typed >= _MAX_TS)).fillna(False).to_numpy(bool)
            if rng.any():
                issues.add(spec.name, rows[rng], col.name, s[rng].astype("string").to_numpy(), "out_of_range")
                bad |= rng
        if col.enum is not None:
            typed = _normalise_enum(typed, col.enum)
            unk = typed.notna().to_numpy() & ~typed.isin(col.enum).fillna(False).to_numpy(bool)
            if unk.any():
                issues.add(spec.name, rows[unk], col.name, s[unk].astype("string").to_numpy(), "unknown_enum")
                bad |= unk
        if col.int_values is not None:
            notin = typed.notna().to_numpy() & ~typed.isin(col.int_values).fillna(False).to_numpy(bool) & ~bad_type
            if notin.any():
                issues.add(spec.name, rows[notin], col.name, s[notin].astype("string").to_numpy(), "bad_int")
                bad |= notin
        if col.bounds is not None:
            lo, hi = col.bounds
            oob = ((typed < lo) | (typed > hi)).fillna(False).to_numpy(bool) & ~bad_type
            if oob.any():
                issues.add(spec.name, rows[oob], col.name, s[oob].astype("string").to_numpy(), "out_of_bounds")
                bad |= oob
        if col.non_negative:
            neg = (typed < 0).fillna(False).to_numpy(bool)
            if neg.any():
                issues.add(spec.name, rows[neg], col.name, s[neg].astype("string").to_numpy(), "negative_amount")
                bad |= neg
        if col.required:
            null = typed.isna().to_numpy() & ~bad_type
            if null.any():
                issues.add(spec.name, rows[null], col.name, [None] * int(null.sum()), "required_null")
                bad |= null
        out[col.name] = typed
    for c in df.columns:
        if c not in spec.column_names:  # extra columns are kept as they are
            out[c] = df[c]
    out_df = pd.DataFrame(out, index=df.index)
    # primary key uniqueness (within the chunk and against earlier chunks)
    if spec.primary_key:
        keys = list(spec.primary_key)
        dup, h = check._duplicates(out_df)
        if h is not None:
            hashes[keys[0]] = h
        if dup.any():
            vals = out_df.loc[dup, keys].astype("string").agg("|".join, axis=1)
            issues.add(spec.name, rows[dup], "|".join(keys), vals.to_numpy(), "duplicate_key")
            bad |= dup
    if spec.name == "patients":
        dbb = (out_df["death_date"] < out_df["birth_date"]).fillna(False).to_numpy(bool) & ~bad
        if dbb.any():
            vals = (out_df.loc[dbb, "death_date"].dt.strftime("%Y-%m-%d") + " < birth_date "
                    + out_df.loc[dbb, "birth_date"].dt.strftime("%Y-%m-%d"))
            issues.add(spec.name, rows[dbb], "death_date", vals.to_numpy(), "death_before_birth")
            bad |= dbb
        future = (out_df["birth_date"] > pd.Timestamp.now().normalize()).fillna(False).to_numpy(bool) & ~bad
        if future.any():
            issues.add(spec.name, rows[future], "birth_date", df.loc[future, "birth_date"].astype("string").to_numpy(), "birth_in_future")
            bad |= future
    if spec.name == "claims":
        paid = out_df["fund_amount"] + out_df["self_amount"].fillna(0.0)
        over = (paid > out_df["total_amount"] + 0.01 + 1e-9).fillna(False).to_numpy(bool) & ~bad
        if over.any():
            o = out_df.loc[over]
            vals = ("fund " + o["fund_amount"].map("{:.2f}".format) + " + self " + o["self_amount"].fillna(0.0).map("{:.2f}".format)
                    + " > total " + o["total_amount"].map("{:.2f}".format))
            issues.add(spec.name, rows[over], "fund_amount", vals.to_numpy(), "fund_above_total")
            bad |= over
        ebs = (out_df["end_time"] < out_df["start_time"]).fillna(False).to_numpy(bool)
        if ebs.any():
            issues.add(spec.name, rows[ebs], "end_time", df.loc[ebs, "end_time"].astype("string").to_numpy(), "end_before_start")
            bad |= ebs
        has_i = out_df["institution_id"].notna().to_numpy()
        has_p = out_df["pharmacy_id"].notna().to_numpy()
        ctype = out_df["claim_type"]
        is_ph = (ctype == "pharmacy").fillna(False).to_numpy(bool)
        is_med = ctype.isin(["outpatient", "inpatient"]).fillna(False).to_numpy(bool)
        mism = (has_i & has_p) | (is_ph & ~has_p) | (is_med & ~has_i) | (is_ph & has_i) | (is_med & has_p)
        mism &= ~bad
        if mism.any():
            vals = (
                out_df.loc[mism, "claim_type"].astype("string").fillna("")
                + ": institution_id="
                + out_df.loc[mism, "institution_id"].astype("string").fillna("")
                + ", pharmacy_id="
                + out_df.loc[mism, "pharmacy_id"].astype("string").fillna("")
            )
            issues.add(spec.name, rows[mism], "institution_id|pharmacy_id", vals.to_numpy(), "provider_mismatch")
            bad |= mism
    return out_df, bad


#: money columns (yuan, at most 2 decimals). Not ``unit_price`` (tariff catalogues price a tablet
#: to the 0.0001 yuan) nor ``quantity``; coordinates are ``float``.
AMOUNT_COLUMNS = frozenset({"total_amount", "fund_amount", "self_amount", "amount"})


def _excess_decimals(vals: np.ndarray) -> np.ndarray:
    """Values that are not a whole number of fen (beyond float noise).

    >>> _excess_decimals(np.array([100.0, 0.1, 12345678.91, 100.001, 0.005, np.nan])).tolist()
    [False, False, False, True, True, False]
    """
    with np.errstate(invalid="ignore"):
        off = np.abs(vals - np.round(vals, 2))
        return np.isfinite(vals) & (off > 1e-9 + np.abs(vals) * 1e-13)


_CONTROL = "[\x00-\x1f\x7f\u2028\u2029]"


def _bad_ids(typed: pd.Series) -> np.ndarray:
    """Ids holding control characters (NUL, newline, tab, …) or an odd number of ``"`` or ``'``.

    >>> _bad_ids(pd.Series(["C1", "C1\\x00", 'C1"', "O'Neil's", "a\\nb", None], dtype="string")).tolist()
    [False, True, True, False, True, False]
    """
    arr = arrow_strings(_strings(typed))
    ctrl = pc.match_substring_regex(arr, _CONTROL)
    dq = pc.bit_wise_and(pc.count_substring(arr, '"'), 1)
    sq = pc.bit_wise_and(pc.count_substring(arr, "'"), 1)
    odd = pc.or_(pc.equal(dq, 1), pc.equal(sq, 1))
    return pc.fill_null(pc.or_(ctrl, odd), False).to_numpy(zero_copy_only=False)


def _shown(values: pd.Series) -> np.ndarray:
    """Ids as a report shows them: control characters written as escapes (\\x00, \\n)."""
    import re

    esc = re.compile(_CONTROL)
    return np.array([esc.sub(lambda m: f"\\x{ord(m.group()):02x}", v) for v in values.astype(str)], dtype=object)


def _prefetch(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Iterate ``items`` in a helper thread, ``depth`` items ahead (reading and decoding a chunk
    — Arrow, without the GIL — overlaps with checking the previous one)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for x in items:
                if not put(("item", x)):
                    break
            else:
                put(("done", None))
        except BaseException as exc:  # re-raised in the consuming thread
            put(("error", exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name="graphkit-load-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, x = q.get()
            if kind == "item":
                yield x
            elif kind == "done":
                return
            else:
                raise x
    finally:
        stop.set()
        thread.join()


#: tables each table's rows refer to (its references, family contacts, budgets' providers)
_REFERS_TO: dict[str, set[str]] = {
    t: {r.table for r in TABLES[t].references}
    | ({"patients"} if t == "contacts" else set())
    | ({"institutions", "pharmacies"} if t == "budgets" else set())
    for t in TABLE_ORDER
}

#: the big fact tables whose chunk boundaries keep one claim's rows together
_HOLD_BACK = {"claim_items": "claim_id"}


class _Engine:
    def __init__(self, lenient: bool, known: KnownKeys, wants_hashes: bool) -> None:
        self.lenient = lenient
        self.known = known
        self.wants_hashes = wants_hashes
        self.ref_sets: dict[str, KeySet] = {}


def _resolve_chunk_rows(chunk_rows: int | None) -> int | None:
    if chunk_rows is None:
        return DEFAULT_CHUNK_ROWS
    return None if chunk_rows <= 0 else int(chunk_rows)


def stream_bundle(
    bundle: str | Path,
    *,
    mapping: Mapping | str | Path | None = None,
    encoding: str | None = None,
    lenient: bool = False,
    known: KnownKeys | MappingT[str, Any] | None = None,
    chunk_rows: int | None = None,
    sink: Sink | None = None,
    progress: Callable[[str], None] | None = None,
) -> ValidationReport:
    """Validate a bundle table by table in chunks and hand every validated chunk to ``sink``.

    ``chunk_rows``: rows per chunk (``None``: :data:`DEFAULT_CHUNK_ROWS`; ``0``: whole tables).
    ``known``: keys already in the target store (references may point at them). In strict
    mode (``lenient=False``) the sink stops getting chunks after the first issue; the report
    still lists every issue. Returns the report; raising on issues is the caller's choice.

    >>> import tempfile, pathlib
    >>> b = pathlib.Path(tempfile.mkdtemp())
    >>> stream_bundle(b).issue_list()[0].rule
    'missing_table'
    """
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.load(mapping)
    rows_per = _resolve_chunk_rows(chunk_rows)
    sink = sink or Sink()
    say = progress or (lambda _msg: None)
    files = locate_tables(bundle, mapping)
    engine = _Engine(lenient, known if isinstance(known, KnownKeys) else KnownKeys(known), sink.wants_hashes)
    issues = _Collector()
    for t in REQUIRED_TABLES:
        if t not in files:
            issues.add(t, [], None, None, "missing_table")
    report = ValidationReport(bundle=str(bundle), issues=issues.frame(), lenient=lenient)
    n_issues = len(issues.parts)
    for t in TABLE_ORDER:
        if t not in files:
            continue
        say(f"校验 {t} / validating {t}")
        reader = TableReader(files[t], t, encoding=encoding, mapping=mapping)
        last: Exception | None = None
        for enc in reader.encodings:
            check = _TableCheck(TABLES[t], reader.columns, engine)
            stops = not lenient and sink.stops_on_issue
            writing = not stops or (n_issues == 0 and not check.issues.parts)
            if writing:
                sink.begin(t, reader.columns, reader.source_types)
            try:
                for raw in _prefetch(reader.chunks(rows_per, enc, hold_back=_HOLD_BACK.get(t))):
                    chunk = check.process(raw)
                    writing = writing and (not stops or not check.issues.parts)
                    if writing:
                        sink.chunk(chunk)
            except WrongEncoding as exc:
                last = exc
                continue
            break
        else:
            tried = [encoding] if encoding else ["utf-8", "gb18030"]
            raise BundleError(f"table {t}: file {files[t].name} is neither valid UTF-8 nor GB18030 (tried {tried}; {last})")
        if writing:
            sink.end(t, check.malformed_frame() if lenient else None)
        issues.parts += check.issues.parts
        n_issues = len(issues.parts)
        if check.kept_keys is not None and len(TABLES[t].primary_key) == 1:
            engine.ref_sets[t] = check.kept_keys
        for r in list(engine.ref_sets):  # keys no later table of the bundle refers to are dropped
            if not any(r in _REFERS_TO[u] for u in TABLE_ORDER[TABLE_ORDER.index(t) + 1:] if u in files):
                del engine.ref_sets[r]
        report.rows_read[t] = check.rows_read
        report.rows_kept[t] = check.rows_kept
        if not reader.parquet:
            report.encodings[t] = enc  # type: ignore[assignment]
    frame = issues.frame()
    if not frame.empty:
        order = {t: i for i, t in enumerate(TABLE_ORDER)}
        frame = frame.assign(_o=frame["table"].map(order)).sort_values(["_o", "row"], kind="stable").drop(columns="_o")
        frame = frame.reset_index(drop=True)
    report.issues = frame
    return report


class _Collect(Sink):
    """Keeps every chunk in memory (what :func:`prepare_bundle` returns)."""

    stops_on_issue = False

    def __init__(self) -> None:
        self.frames: dict[str, list[pd.DataFrame]] = {}
        self.quarantine: dict[str, list[pd.DataFrame]] = {}
        self.columns: dict[str, list[str]] = {}

    def begin(self, table: str, columns: list[str], source_types: dict[str, pa.DataType]) -> None:
        self.frames[table], self.quarantine[table], self.columns[table] = [], [], columns

    def chunk(self, chunk: Chunk) -> None:
        self.frames[chunk.table].append(chunk.frame)
        if chunk.quarantine is not None:
            self.quarantine[chunk.table].append(chunk.quarantine)

    def end(self, table: str, malformed: pd.DataFrame | None) -> None:
        parts = self.quarantine.pop(table)
        if parts or malformed is not None:
            q = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["_row", "_reason", *self.columns[table]])
            if malformed is not None:
                q = pd.concat([q, malformed], ignore_index=True)
            self.quarantine[table] = q


def prepare_bundle(
    bundle: str | Path,
    *,
    mapping: Mapping | str | Path | None = None,
    encoding: str | None = None,
    lenient: bool = False,
    known_keys: MappingT[str, Any] | KnownKeys | None = None,
    chunk_rows: int | None = None,
) -> Prepared:
    """Read, type and validate a bundle into memory (what the Neo4j loader writes from).

    ``known_keys`` holds primary keys already in the target store, so a later bundle may
    refer to entities loaded before. Validation streams in chunks (see :func:`stream_bundle`);
    the validated tables are returned whole.
    """
    sink = _Collect()
    report = stream_bundle(bundle, mapping=mapping, encoding=encoding, lenient=lenient, known=known_keys,
                           chunk_rows=chunk_rows, sink=sink)
    tables = {}
    for t, parts in sink.frames.items():
        tables[t] = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    return Prepared(tables, report, {t: q for t, q in sink.quarantine.items() if isinstance(q, pd.DataFrame)})


def validate_bundle(
    bundle: str | Path,
    *,
    mapping: Mapping | str | Path | None = None,
    encoding: str | None = None,
    store: str | Path | None = None,
    chunk_rows: int | None = None,
    sink: Sink | None = None,
) -> ValidationReport:
    """Validate a bundle folder and return the report (nothing is written; memory-bounded).

    ``store``: an existing store whose entities the bundle may refer to. ``sink``: receives
    the validated chunks (e.g. :class:`graphkit.profile.ProfileSink` to profile the data).
    """
    known = None
    if store is not None:
        from .embedded import store_known_keys

        known = store_known_keys(store)
    return stream_bundle(bundle, mapping=mapping, encoding=encoding, known=known, chunk_rows=chunk_rows, sink=sink)
