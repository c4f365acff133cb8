"""Validation of a claims bundle exactly as the spec's Validation section says.

Every problem becomes an *issue* naming table, row (1-based, header excluded), column,
value and rule. Strict mode (default) writes nothing when any issue exists; lenient mode
quarantines the bad rows with their reasons (and, transitively, rows that refer to them)
and keeps the rest.

Examples
--------
>>> from loaders.validate import validate_bundle
>>> report = validate_bundle("my-bundle")          # doctest: +SKIP
>>> print(report.format())                          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from graphkit._fast import isin
from graphkit.errors import BundleError
from graphkit.schema import REQUIRED_TABLES, TABLE_ORDER, TABLES, Table
from graphkit.store.embedded import DTYPES

from .bundle import Mapping, RawTable, locate_tables, read_table

__all__ = ["Issue", "ValidationReport", "validate_bundle", "prepare_bundle", "RULES"]

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
    "unknown_enum": ("未知的枚举值", "unknown enum value"),
    "negative_amount": ("金额为负数", "negative amount"),
    "duplicate_key": ("主键重复", "duplicate primary key"),
    "dangling_reference": ("引用了不存在的记录", "reference to an unknown record"),
    "end_before_start": ("结束时间早于开始时间", "end_time before start_time"),
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
        self.issues.to_csv(path, index=False)


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


def _typed_column(s: pd.Series, typ: str) -> tuple[pd.Series, np.ndarray, str | None]:
    """Convert a raw column to its schema type; return (typed, bad-mask, rule)."""
    present = s.notna().to_numpy()
    if typ == "str":
        out = s.astype("string").str.strip()
        out = out.mask(out == "")
        return out, np.zeros(len(s), bool), None
    if typ in ("date", "datetime"):
        if pd.api.types.is_datetime64_any_dtype(s):
            out = s
        else:
            raw = s.astype("string").str.strip()
            try:
                out = pd.to_datetime(raw, format="ISO8601", errors="coerce")
            except ValueError:  # mixed UTC offsets (e.g. "+08:00" beside naive): keep the wall-clock time
                raw = raw.str.replace(_TZ_SUFFIX, r"\1", regex=True)
                out = pd.to_datetime(raw, format="ISO8601", errors="coerce")
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        bad = present & out.isna().to_numpy()
        rule = "bad_date" if typ == "date" else "bad_datetime"
        out = out.astype("datetime64[s]")  # the 1900–2100 range is checked by _check_table
        if typ == "date":
            out = out.dt.floor("D")
        return out, bad, rule
    if typ in ("decimal", "int"):
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out = s.astype("float64")
        else:
            out = pd.to_numeric(s.astype("string").str.strip(), errors="coerce").astype("float64")
        vals = out.to_numpy("float64", na_value=np.nan)
        bad = present & ~np.isfinite(vals)
        if typ == "int":
            bad |= present & np.isfinite(vals) & (np.round(vals) != vals)
            return out.round().astype("Int64"), bad, "bad_int"
        return out.round(2), bad, "bad_number"
    if typ == "bool":
        if pd.api.types.is_bool_dtype(s):
            return s.astype("boolean"), np.zeros(len(s), bool), None
        low = s.astype("string").str.strip().str.lower()
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


def _check_table(raw: RawTable, spec: Table, issues: _Collector) -> tuple[pd.DataFrame, np.ndarray]:
    """Type one table and flag row-level problems. Returns (typed frame, bad-row mask)."""
    df = raw.frame
    rows = raw.row_numbers
    n = len(df)
    bad = np.zeros(n, bool)
    for number, text in raw.malformed:
        issues.add(spec.name, [np.nan if number is None else number], None, [text[:200]], "malformed_row")
    missing = [c for c in spec.required_columns if c not in df.columns]
    for c in missing:
        issues.add(spec.name, [np.nan], c, None, "missing_column")  # table-level: no row number
    if missing:  # every row is unusable; keep the schema's typed columns (nothing of it is stored)
        empty = pd.DataFrame({c.name: pd.Series([], dtype=DTYPES[c.type]) for c in spec.columns})
        return empty, np.ones(n, bool)
    out = pd.DataFrame(index=df.index)
    for col in spec.columns:
        if col.name not in df.columns:
            out[col.name] = pd.Series(index=df.index, dtype=DTYPES[col.type])  # all null (NaN/NaT/NA)
            continue
        s = df[col.name]
        typed, bad_type, rule = _typed_column(s, col.type)
        if bad_type.any():
            issues.add(spec.name, rows[bad_type], col.name, s[bad_type].astype("string").to_numpy(), rule)
            bad |= bad_type
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
    extras = [c for c in df.columns if c not in spec.column_names]
    for c in extras:
        out[c] = df[c]
    # primary key uniqueness
    if spec.primary_key:
        dup = out.duplicated(list(spec.primary_key), keep="first").to_numpy() & ~out[list(spec.primary_key)].isna().any(axis=1).to_numpy()
        if dup.any():
            vals = out.loc[dup, list(spec.primary_key)].astype("string").agg("|".join, axis=1)
            issues.add(spec.name, rows[dup], "|".join(spec.primary_key), vals.to_numpy(), "duplicate_key")
            bad |= dup
    if spec.name == "claims":
        ebs = (out["end_time"] < out["start_time"]).fillna(False).to_numpy(bool)
        if ebs.any():
            issues.add(spec.name, rows[ebs], "end_time", df.loc[ebs, "end_time"].astype("string").to_numpy(), "end_before_start")
            bad |= ebs
        has_i = out["institution_id"].notna().to_numpy()
        has_p = out["pharmacy_id"].notna().to_numpy()
        ctype = out["claim_type"]
        is_ph = (ctype == "pharmacy").fillna(False).to_numpy(bool)
        is_med = ctype.isin(["outpatient", "inpatient"]).fillna(False).to_numpy(bool)
        mism = (has_i & has_p) | (is_ph & ~has_p) | (is_med & ~has_i) | (is_ph & has_i) | (is_med & has_p)
        mism &= ~bad
        if mism.any():
            vals = (
                out.loc[mism, "claim_type"].astype("string").fillna("")
                + ": institution_id="
                + out.loc[mism, "institution_id"].astype("string").fillna("")
                + ", pharmacy_id="
                + out.loc[mism, "pharmacy_id"].astype("string").fillna("")
            )
            issues.add(spec.name, rows[mism], "institution_id|pharmacy_id", vals.to_numpy(), "provider_mismatch")
            bad |= mism
    return out, bad


def prepare_bundle(
    bundle: str | Path,
    *,
    mapping: Mapping | str | Path | None = None,
    encoding: str | None = None,
    lenient: bool = False,
    known_keys: dict[str, pd.Index] | None = None,
) -> Prepared:
    """Read, type and validate a bundle (the work shared by ``validate`` and ``load``).

    ``known_keys`` holds primary keys already in the target store, so a later bundle may
    refer to entities loaded before.
    """
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.load(mapping)
    files = locate_tables(bundle, mapping)
    issues = _Collector()
    for t in REQUIRED_TABLES:
        if t not in files:
            issues.add(t, [], None, None, "missing_table")
    typed: dict[str, pd.DataFrame] = {}
    badmask: dict[str, np.ndarray] = {}
    raws: dict[str, RawTable] = {}
    nrows: dict[str, int] = {}
    for t in TABLE_ORDER:
        if t in files:
            # one table at a time: read, type, and (strict mode, where no quarantine is written)
            # drop the raw strings at once, so the raw and typed copies of all tables never coexist
            raws[t] = read_table(files[t], t, encoding=encoding, mapping=mapping)
            nrows[t] = len(raws[t].frame)
            typed[t], badmask[t] = _check_table(raws[t], TABLES[t], issues)
            if not lenient:
                raws[t].frame = raws[t].frame.iloc[0:0]
    known_keys = known_keys or {}

    def allowed_keys(table: str, key: str) -> pd.Index:
        """Keys a reference may point at: the bundle's rows (in lenient mode only those kept so
        far, so quarantine cascades) and what the target store already holds."""
        keys = []
        target = typed.get(table)
        if target is not None and not target.empty:
            keep = ~badmask[table] if lenient else np.ones(len(target), bool)
            keys.append(pd.Index(target.loc[keep, key].dropna()))
        if table in known_keys:
            keys.append(known_keys[table])
        return keys[0].append(keys[1:]) if keys else pd.Index([], dtype="string")

    def flag(t: str, rows: np.ndarray, column: str, values: pd.Series, dangling: np.ndarray) -> None:
        if dangling.any():
            issues.add(t, rows[dangling], column, values[dangling].to_numpy(object), "dangling_reference")
            badmask[t] = badmask[t] | dangling

    # references, in dependency order; lenient mode cascades quarantine along them
    for t in TABLE_ORDER:
        if t not in typed or typed[t].empty:
            continue
        df = typed[t]
        rows = raws[t].row_numbers
        for ref in TABLES[t].references:
            col = df[ref.column]
            flag(t, rows, ref.column, col, col.notna().to_numpy() & ~isin(col, allowed_keys(ref.table, ref.target)))
        if t == "contacts":  # a family link's value is another patient
            fam = (df["kind"] == "family").fillna(False).to_numpy(bool)
            if fam.any():
                flag(t, rows, "value", df["value"], fam & ~isin(df["value"], allowed_keys("patients", "patient_id")))
        if t == "budgets":  # a budget names an institution or a pharmacy, depending on provider_type
            dangling = np.zeros(len(df), bool)
            for ptype, table, key in (("institution", "institutions", "institution_id"), ("pharmacy", "pharmacies", "pharmacy_id")):
                mine = (df["provider_type"] == ptype).fillna(False).to_numpy(bool)
                dangling |= mine & df["provider_id"].notna().to_numpy() & ~isin(df["provider_id"], allowed_keys(table, key))
            flag(t, rows, "provider_id", df["provider_id"], dangling)
    frame = issues.frame()
    if not frame.empty:
        order = {t: i for i, t in enumerate(TABLE_ORDER)}
        frame = frame.assign(_o=frame["table"].map(order)).sort_values(["_o", "row"], kind="stable").drop(columns="_o")
        frame = frame.reset_index(drop=True)
    report = ValidationReport(
        bundle=str(bundle),
        issues=frame,
        rows_read={t: int(nrows[t] + len(raws[t].malformed)) for t in raws},
        encodings={t: r.encoding for t, r in raws.items() if r.encoding},
        lenient=lenient,
    )
    quarantine: dict[str, pd.DataFrame] = {}
    kept: dict[str, pd.DataFrame] = {}
    for t, df in typed.items():
        mask = badmask[t]
        kept[t] = df.loc[~mask].reset_index(drop=True) if len(df) else df
        report.rows_kept[t] = int(len(kept[t]))
        if lenient and (mask.any() or raws[t].malformed):
            q = raws[t].frame.loc[mask].copy() if len(raws[t].frame) else raws[t].frame.copy()
            q.insert(0, "_row", raws[t].row_numbers[mask] if len(raws[t].frame) else [])
            reasons = frame[frame["table"] == t]
            row_level = reasons.dropna(subset=["row"])
            if len(row_level):
                text = row_level["column"].fillna("-").astype(str) + ": " + row_level["rule"].astype(str)
                by_row = text.groupby(row_level["row"].astype("int64").to_numpy(), sort=False).agg("; ".join)
            else:
                by_row = pd.Series(dtype="object")
            table_level = reasons[reasons["row"].isna()]
            fallback = "; ".join(f"{c}: {r}" for c, r in zip(table_level["column"].fillna("-"), table_level["rule"]))
            q.insert(1, "_reason", pd.Series(q["_row"]).map(by_row).astype(object).fillna(fallback or "dangling_reference").to_numpy())
            if raws[t].malformed:
                mal = pd.DataFrame(
                    {"_row": [n for n, _ in raws[t].malformed], "_reason": "malformed_row", "_text": [x for _, x in raws[t].malformed]}
                )
                q = pd.concat([q, mal], ignore_index=True)
            quarantine[t] = q
    return Prepared(kept, report, quarantine)


def validate_bundle(
    bundle: str | Path,
    *,
    mapping: Mapping | str | Path | None = None,
    encoding: str | None = None,
    store: str | Path | None = None,
) -> ValidationReport:
    """Validate a bundle folder and return the report (nothing is written).

    ``store``: an existing store whose entities the bundle may refer to.
    """
    known = None
    if store is not None:
        from .embedded import store_keys

        known = store_keys(store)
    return prepare_bundle(bundle, mapping=mapping, encoding=encoding, known_keys=known).report
