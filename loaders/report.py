"""The validation report: the rules, one :class:`Issue` per problem, and
:class:`ValidationReport` with its readable form (structural problems first, the follow-on
issues they cause summarised in one line) and its CSV export.

>>> r = ValidationReport("b", pd.DataFrame([
...     {"table": "claims", "row": None, "column": "fund_amount", "value": None, "rule": "missing_column"},
...     {"table": "claim_items", "row": 1, "column": "claim_id", "value": "C1", "rule": "dangling_reference"},
...     {"table": "claim_items", "row": 2, "column": "claim_id", "value": "C2", "rule": "dangling_reference"}]))
>>> r.structural_issues().shape[0], int(r.follow_on_mask().sum())
(1, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from graphkit.schema import TABLE_ORDER, TABLES

__all__ = ["RULES", "STRUCTURAL_RULES", "Issue", "ValidationReport", "mask_value", "masked_issues"]

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
    "claim_before_birth": ("结算开始早于参保人出生日期", "claim starts before the person's birth date"),
    "bad_id": ("编号含控制字符(NUL、换行等)或不成对的引号", "id holds control characters (NUL, newline, …) or unbalanced quotes"),
    "provider_mismatch": (
        "机构/药店字段与结算类型不符(须且仅须填一个)",
        "exactly one of institution_id/pharmacy_id, matching claim_type",
    ),
}

#: rules that make a whole table unusable (every later rule on it, and references into it, follow)
STRUCTURAL_RULES = ("missing_table", "missing_column")

_ISSUE_COLUMNS = ["table", "row", "column", "value", "rule", "message"]

#: columns of the personal tables that identify a person with the region beside them (quasi-identifiers)
QUASI_IDENTIFIERS: dict[str, tuple[str, ...]] = {"patients": ("birth_date", "death_date")}


def mask_value(v: str) -> str:
    """A clear personal value as the printed report shows it: its first (and, from 4 characters,
    last) character kept, the rest starred — enough to find the row, not to read the value.

    >>> mask_value("370102198001011234"), mask_value("张三"), mask_value("pz:0a1b")
    ('3****************4', '张*', 'pz:0a1b')
    """
    if v.startswith("pz:"):  # already a token (the quarantine report is tokenised)
        return v
    if len(v) >= 4:
        return v[0] + "*" * (len(v) - 2) + v[-1]
    return v[:1] + "*" * max(len(v) - 1, 0)


def _personal(table: str, column: str) -> bool:
    """Whether ``table.column`` holds personal data in a printed report: what the loader tokenises
    (:func:`loaders.personal.personal_columns`: the contract's personal fields and, default-deny,
    the extra columns of a personal table) and the dates that make a person findable (birth, death)."""
    from .personal import personal_columns  # (imported here: loaders.personal imports this module)

    return column in QUASI_IDENTIFIERS.get(table, ()) or bool(personal_columns(table, [column]))


def masked_issues(issues: pd.DataFrame) -> pd.DataFrame:
    """``issues`` with the personal values masked (:func:`mask_value`): of a personal column, the
    parts of a composite key (``patient_id|kind|value``) that are personal, and a whole row's text
    on a personal table. The report's own ``issues`` keep the values (the loader's quarantine needs
    them); what is printed or written as a report goes through this.

    >>> masked_issues(pd.DataFrame([{"table": "contacts", "row": 3, "column": "patient_id|kind|value",
    ...                               "value": "PT3|phone|13800000001", "rule": "duplicate_key"}]))["value"].tolist()
    ['PT3|phone|1*********1']
    """
    if issues.empty:
        return issues
    from graphkit.schema import PERSONAL_FIELDS

    personal_tables = set(PERSONAL_FIELDS)
    out = issues.copy()
    vals = out["value"].astype(object).to_numpy(copy=True)
    for i, (t, c, v) in enumerate(zip(out["table"], out["column"], vals)):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            continue
        v = str(v)
        if c is None or (isinstance(c, float) and np.isnan(c)):
            if t in personal_tables:
                vals[i] = mask_value(v)  # a malformed row's text on a personal table
            continue
        cols, parts = str(c).split("|"), v.split("|")
        if len(cols) == len(parts) > 1:
            vals[i] = "|".join(mask_value(p) if _personal(t, col) else p for col, p in zip(cols, parts))
        elif any(_personal(t, col) for col in cols):
            vals[i] = mask_value(v)
    out["value"] = vals
    return out


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

    def structural_issues(self) -> pd.DataFrame:
        """The issues that make a whole table unusable (a missing table or required column)."""
        return self.issues[self.issues["rule"].isin(STRUCTURAL_RULES)]

    def follow_on_mask(self) -> pd.Series:
        """Which issues only follow from a structural one: references into a table that is
        missing or lost a required column (its rows cannot be kept, so every reference to
        them dangles)."""
        broken = set(self.structural_issues()["table"])
        if not broken:
            return pd.Series(False, index=self.issues.index)
        into: dict[tuple[str, str], str] = {(t, r.column): r.table for t in TABLE_ORDER for r in TABLES[t].references}
        refs = self.issues[self.issues["rule"] == "dangling_reference"]
        pairs = refs[["table", "column"]].drop_duplicates()
        hit = {(t, c) for t, c in pairs.itertuples(index=False)
               if into.get((t, c)) in broken or (t, c) not in into and (t in broken or _refers_to_broken(t, broken))}
        keys = pd.Series(list(zip(self.issues["table"], self.issues["column"])), index=self.issues.index)
        return (self.issues["rule"] == "dangling_reference") & keys.isin(hit)

    def format(self, limit: int = 20) -> str:
        """A readable report (Chinese first, English alongside).

        Structural problems (a missing table or required column) are listed first and
        alone; the issues they cause are summarised in one line, and any other issues in
        another (``--report FILE`` lists them all)."""
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
        structural = self.structural_issues()
        if not structural.empty:
            lines.append(f"结构问题（请先修正）/ structural problem(s), fix these first: {len(structural)}")
            for r in structural.itertuples(index=False):
                what = r.table if r.rule == "missing_table" else f"{r.table}.{r.column}"
                lines.append(f"  {what}: {RULES[r.rule][0]} / {RULES[r.rule][1]}")
            follow = self.follow_on_mask()
            n_follow = int(follow.sum())
            if n_follow:
                where = ", ".join(f"{t}.{c}" for t, c in self.issues.loc[follow, ["table", "column"]].drop_duplicates().itertuples(index=False))
                lines.append(f"  另有 {n_follow} 个后续问题由上述结构问题引起（{where}：引用了不存在的记录）/ "
                             f"{n_follow} follow-on issue(s) caused by them ({where}: reference to an unknown record)")
            n_other = len(self.issues) - len(structural) - n_follow
            if n_other:
                lines.append(f"  另有 {n_other} 个其他问题，修正结构问题后重新校验即可看到（或用 --report FILE 列出全部）/ "
                             f"{n_other} other issue(s): validate again after fixing the structure (or list all with --report FILE)")
            return "\n".join(lines)
        counts = self.issues.groupby(["table", "column", "rule"], dropna=False, sort=False).size()
        for (t, c, r), n in counts.items():
            lines.append(f"  {n:>8} × {t}.{c if isinstance(c, str) else '-'}: {RULES[r][0]} / {RULES[r][1]}")
        lines.append("示例 / first issues (table, row, column, value, rule; personal values masked):")
        for r in masked_issues(self.issues.head(limit)).itertuples(index=False):
            row = "-" if pd.isna(r.row) else int(r.row)
            val = "" if r.value is None or (isinstance(r.value, float) and np.isnan(r.value)) else repr(r.value)
            lines.append(f"  {r.table} 行/row {row} 列/column {r.column or '-'} 值/value {val}: {r.message}")
        if len(self.issues) > limit:
            lines.append(f"  … 另有 {len(self.issues) - limit} 个 / {len(self.issues) - limit} more (use --report FILE)")
        return "\n".join(lines)

    def to_csv(self, path: str | Path) -> None:
        """The issues as CSV, personal values masked (:func:`masked_issues`) and formula-like values
        neutralised (:func:`graphkit.outputs.csv_safe`)."""
        from graphkit.outputs import write_csv

        write_csv(masked_issues(self.issues), path)


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


def _refers_to_broken(table: str, broken: set[str]) -> bool:
    """Rows of ``table`` that name people or providers outside its declared references
    (``contacts`` → patients, ``budgets`` → institutions and pharmacies)."""
    extra = {"contacts": {"patients"}, "budgets": {"institutions", "pharmacies"}}.get(table, set())
    return bool(extra & broken)
