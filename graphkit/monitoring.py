"""Routine fund supervision (基金监管日常工作) from the claims data: budget pace, monthly key
indicators, double-random inspection draws, review sampling, penalties and yearly ranking.

Every routine is a function returning a :class:`pandas.DataFrame` with English machine column
names (a ``*_zh`` column carries the Chinese label where useful; :data:`ZH` translates the
columns for display). Random draws (:func:`draw_inspection`, :func:`review_sample`) are
reproducible from ``seed`` and recorded in the audit log (:func:`graphkit.audit.default_log`).

Data source
-----------
Each function reads from ``source``: a :class:`~graphkit.store.Store` (``open_store(...)``)
or, for small hand-made data, a mapping ``{table name: DataFrame}`` using the bundle's
column names (missing optional tables count as empty).

Bundle extension: the optional ``budgets`` table (医保基金预算)
---------------------------------------------------------------
``budgets.csv`` / ``.csv.gz`` / ``.parquet`` in the bundle, one row per provider and year:

==============  ===========================  ================================================
column          type                         notes
==============  ===========================  ================================================
provider_type*  ``institution``/``pharmacy``
provider_id*    str                          an ``institution_id`` or a ``pharmacy_id``
year*           int                          calendar year the budget covers
amount*         decimal, non-negative        yearly fund budget (yuan)
==============  ===========================  ================================================

Primary key (provider_type, provider_id, year). The loader validates types, enum, sign and
duplicate keys like any table; whether ``provider_id`` names a known institution/pharmacy
(it refers to one table or the other depending on ``provider_type``) is checked here:
:func:`budget_pace` raises :class:`MonitoringError` listing the unknown ids.

Budget pace (序时进度)
----------------------
A claim's fund is spent in the month it is *settled*: the discharge month (``end_time``) for
inpatient stays, the start month otherwise. Months run from the month of the first claim
start to that of the last (or ``through``). In year Y, the cumulative spend from the first
reported month of Y up to month m is compared with ``amount × n / 12`` (n = reported months
of Y up to m, i.e. the month number for a bundle starting in January). Deviation =
cumulative / expected − 1; above +5 % → ``warn`` (约谈提醒/暂缓支付), above +10 % →
``refuse`` (拒付/限期整改); both thresholds are parameters.

Review sampling: which claims are manual (手工报销)
---------------------------------------------------
An optional extra claims column says so: ``manual`` (true/false, 1/0, yes/no, 是/否) or
``settlement_mode`` (``manual``, ``manual_reimbursement``, ``手工``, ``手工报销``, ``零星报销``,
``手工结算`` count as manual; any other value, e.g. ``direct``/``联网结算``, does not). With
neither column every claim at or above the threshold is taken.

Examples
--------
>>> import pandas as pd
>>> claims = pd.DataFrame({"claim_id": ["C1", "C2"], "claim_type": ["outpatient", "outpatient"],
...     "institution_id": ["H1", "H1"], "pharmacy_id": [None, None], "patient_id": ["P1", "P1"],
...     "start_time": ["2024-01-10", "2024-02-10"], "end_time": [None, None],
...     "total_amount": [1070.0, 1070.0], "fund_amount": [1070.0, 1070.0]})
>>> data = {"claims": claims, "institutions": pd.DataFrame({"institution_id": ["H1"]}),
...     "budgets": pd.DataFrame({"provider_type": ["institution"], "provider_id": ["H1"],
...                              "year": [2024], "amount": [12000.0]})}
>>> budget_pace(data)[["month", "cumulative", "expected", "level"]]
     month  cumulative  expected level
0  2024-01      1070.0    1000.0  warn
1  2024-02      2140.0    2000.0  warn
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .outputs import read_csv
from .audit import AuditLog, default_log
from .errors import GraphkitError, ParameterError
from .schema import TABLES

__all__ = [
    "MonitoringError",
    "ZH",
    "LEVELS",
    "CHRONIC_PREFIXES",
    "MANUAL_MODES",
    "DEFAULT_RISK_WEIGHTS",
    "DEFAULT_DEDUCTIONS",
    "budget_pace",
    "pace_alerts",
    "monthly_indicators",
    "focus_list",
    "inspection_candidates",
    "draw_inspection",
    "review_sample",
    "penalties",
    "penalty_tiers",
    "yearly_scores",
    "bottom_ranking",
    "example_inputs",
    "from_env",
    "plot_budget_pace",
    "plot_indicators",
    "plot_inspection",
    "plot_review_sample",
    "plot_penalties",
    "plot_ranking",
]


class MonitoringError(GraphkitError):
    """Monitoring input is missing or inconsistent (no budgets, unknown provider ids …)."""


#: level → (action, 中文)
LEVELS: dict[str, tuple[str, str]] = {
    "ok": ("none", "正常"),
    "warn": ("interview / withhold payment", "约谈提醒/暂缓支付"),
    "refuse": ("refuse payment / rectify within a deadline", "拒付/限期整改"),
}

#: Chinese display labels of the machine column names
ZH: dict[str, str] = {
    "provider_type": "机构类型", "provider_id": "机构编码", "department": "科室", "year": "年度", "month": "月份",
    "months_elapsed": "已过月数", "budget": "年度预算", "spend": "当月支出", "cumulative": "累计支出",
    "expected": "序时预算", "pace": "序时进度", "deviation": "超序时进度", "level": "级别", "action": "处理",
    "peak_deviation": "最高超进度", "peak_month": "最高月份", "first_breach": "首次超进度", "months_breached": "超进度月数",
    "visits": "门诊(购药)人次", "admissions": "住院人次", "visit_cost": "门诊(购药)费用", "avg_visit_cost": "次均费用",
    "avg_visit_cost_growth": "次均费用增长率", "inpatient_cost": "住院费用", "avg_inpatient_cost": "次均住院费用",
    "avg_inpatient_cost_employee": "次均住院费用(职工)", "avg_inpatient_cost_resident": "次均住院费用(居民)",
    "avg_inpatient_cost_low_income": "次均住院费用(低收入)", "chronic_outpatient_cost": "门诊慢特病费用",
    "fund_spend": "基金支出", "criterion": "指标", "criterion_zh": "指标(中文)", "rank": "排名", "value": "数值",
    "draw_id": "抽取编号", "order": "顺序", "weight": "抽取权重", "share": "权重占比", "score": "评分",
    "complaints": "投诉", "violations": "既往违规", "inspectors": "检查人员", "claim_id": "结算单号",
    "claim_type": "类型", "patient_id": "参保人", "start_time": "时间", "total_amount": "总费用",
    "fund_amount": "基金支付", "manual": "手工报销", "reason": "抽取原因", "reason_zh": "抽取原因(中文)",
    "amount": "违规金额", "penalty_multiple": "罚款倍数", "penalty_amount": "罚款金额", "tier": "金额档次",
    "risk_deduction": "风险扣分", "pace_deduction": "预算扣分", "violation_deduction": "违规扣分",
    "complaint_deduction": "投诉扣分", "of": "同类总数",
}

#: ICD-10 prefixes counted as chronic/special outpatient disease (门诊慢特病) by default
CHRONIC_PREFIXES: tuple[str, ...] = (
    "I10", "I11", "I12", "I13", "I15",          # hypertension 高血压
    "E10", "E11", "E12", "E13", "E14",          # diabetes 糖尿病
    "I20", "I25", "I50",                        # coronary heart disease, heart failure 冠心病/心衰
    "I63", "I69",                               # stroke and its sequelae 脑卒中(后遗症)
    "J44", "J45",                               # COPD, asthma 慢阻肺/哮喘
    "N18",                                      # chronic kidney disease 慢性肾病(透析)
    "C",                                        # malignant tumours 恶性肿瘤门诊治疗
    "F20", "F31", "G20", "G40", "K74", "M05", "M17",
)

#: ``settlement_mode`` values meaning a manual (手工/零星) reimbursement
MANUAL_MODES: tuple[str, ...] = ("manual", "manual_reimbursement", "手工", "手工报销", "零星报销", "手工结算")
_TRUE = {"true", "t", "1", "yes", "y", "是"}

#: selection weight = base + score×risk score + complaint×min(complaints, cap) + violation×min(violations, cap)
DEFAULT_RISK_WEIGHTS: dict[str, float] = {
    "base": 1.0, "score": 4.0, "complaint": 0.5, "complaint_cap": 6, "violation": 1.0, "violation_cap": 3,
}

#: yearly score = 100 − deductions (see :func:`yearly_scores`)
DEFAULT_DEDUCTIONS: dict[str, float] = {
    "risk": 30.0, "warn": 5.0, "refuse": 10.0, "violation": 5.0, "violation_cap": 20.0,
    "complaint": 1.0, "complaint_cap": 10.0,
}

_GROUPS = ("employee", "resident", "low_income")
_PROVIDER_COLS = ["provider_type", "provider_id"]


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------
def _is_store(source: Any) -> bool:
    return hasattr(source, "table") and not isinstance(source, Mapping)


def _columns(source: Any, name: str) -> list[str]:
    if _is_store(source):
        return list(source.columns(name)) if source.has_table(name) else []
    df = source.get(name)
    return [] if df is None else list(df.columns)


def _has(source: Any, name: str) -> bool:
    return source.has_table(name) if _is_store(source) else source.get(name) is not None


def _table(source: Any, name: str, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` of table ``name`` typed like the store (absent table/column → empty/NA)."""
    if _is_store(source):
        return source.table(name, list(columns)).copy()
    df = source.get(name)
    if df is None:
        df = pd.DataFrame(index=range(0))
    spec = TABLES.get(name)
    out = {}
    for c in columns:
        typ = spec.column(c).type if spec is not None and c in spec.column_names else None
        s = df[c] if c in df.columns else pd.Series([None] * len(df), index=df.index, dtype="object")
        if typ in ("date", "datetime"):
            s = pd.to_datetime(s, format="ISO8601")
        elif typ in ("decimal", "float"):
            s = pd.to_numeric(s).astype("float64")
        elif typ == "int":
            s = pd.to_numeric(s).astype("Int64")
        elif typ == "bool":
            s = s.astype("boolean")
        elif typ == "str":
            s = s.astype("string")
        out[c] = s
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def _providers(source: Any) -> pd.DataFrame:
    inst = _table(source, "institutions", ["institution_id"])["institution_id"]
    ph = _table(source, "pharmacies", ["pharmacy_id"])["pharmacy_id"] if _has(source, "pharmacies") else pd.Series([], dtype="string")
    return pd.concat([
        pd.DataFrame({"provider_type": "institution", "provider_id": inst.astype("string")}),
        pd.DataFrame({"provider_type": "pharmacy", "provider_id": ph.astype("string")}),
    ], ignore_index=True).astype({"provider_type": "string"}).dropna().drop_duplicates().sort_values(
        _PROVIDER_COLS, kind="stable").reset_index(drop=True)


def _with_provider(claims: pd.DataFrame) -> pd.DataFrame:
    is_inst = claims["institution_id"].notna()
    claims["provider_type"] = pd.Series(np.where(is_inst, "institution", "pharmacy"), index=claims.index, dtype="string")
    claims["provider_id"] = claims["institution_id"].where(is_inst, claims["pharmacy_id"]).astype("string")
    return claims


def _ym(ts: pd.Series) -> pd.Series:
    """Month number (year × 12 + month − 1) of datetimes."""
    return ts.dt.year.astype("int64") * 12 + ts.dt.month.astype("int64") - 1


def _ym_str(m: int | np.integer) -> str:
    m = int(m)
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


def _parse_ym(text: str) -> int:
    try:
        ts = pd.Timestamp(str(text)[:7] + "-01")
    except ValueError:
        raise ParameterError(f"month must be 'YYYY-MM'; got {text!r}") from None
    return ts.year * 12 + ts.month - 1


def _fingerprint(source: Any) -> str | None:
    return getattr(source, "fingerprint", None) if _is_store(source) else None


def _log(log: AuditLog | None) -> AuditLog:
    return log if log is not None else default_log()


def _count_by_provider(df: pd.DataFrame | None, what: str, year: int | None = None) -> pd.DataFrame:
    """Complaints/violations per provider: each row counts 1, or ``count`` when that column exists."""
    cols = [*_PROVIDER_COLS, what]
    if df is None or len(df) == 0:
        return pd.DataFrame({c: pd.Series([], dtype="string" if c != what else "float64") for c in cols})
    if "provider_id" not in df.columns:
        raise MonitoringError(f"{what}: a provider_id column is required; got columns {list(df.columns)}")
    d = df.copy()
    if year is not None and "year" in d.columns:
        d = d[pd.to_numeric(d["year"]) == year]
    d["provider_id"] = d["provider_id"].astype("string")
    n = pd.to_numeric(d["count"]).astype("float64") if "count" in d.columns else pd.Series(1.0, index=d.index)
    d = d.assign(_n=n)
    if "provider_type" not in d.columns:
        d["provider_type"] = pd.NA
    d["provider_type"] = d["provider_type"].astype("string")
    out = d.groupby(["provider_type", "provider_id"], dropna=False)["_n"].sum().rename(what).reset_index()
    return out


def _attach_counts(pop: pd.DataFrame, counts: pd.DataFrame, what: str) -> pd.Series:
    """Counts per population row; rows without provider_type match on provider_id alone."""
    typed = counts[counts["provider_type"].notna()]
    untyped = counts[counts["provider_type"].isna()].groupby("provider_id")[what].sum()
    tv = pd.Series(typed[what].to_numpy(dtype="float64"),
                   index=pd.MultiIndex.from_frame(typed[_PROVIDER_COLS].astype(str)) if len(typed) else None,
                   dtype="float64")
    key = pd.MultiIndex.from_frame(pop[_PROVIDER_COLS].astype(str))
    v = pd.Series(tv.reindex(key).to_numpy(dtype="float64") if len(tv) else np.zeros(len(pop)), index=pop.index)
    u = pop["provider_id"].astype(str).map(untyped.rename(index=str)).astype("float64")
    return v.fillna(0.0) + u.fillna(0.0)


# ----------------------------------------------------------------------------------------------
# Budget pace 序时进度
# ----------------------------------------------------------------------------------------------
def _check_budgets(b: pd.DataFrame, providers: pd.DataFrame) -> pd.DataFrame:
    need = ["provider_type", "provider_id", "year", "amount"]
    missing = [c for c in need if c not in b.columns]
    if missing:
        raise MonitoringError(f"budgets: missing column(s) {missing}; need {need}")
    b = b[need].copy()
    b["provider_type"] = b["provider_type"].astype("string").str.strip().str.lower()
    b["provider_id"] = b["provider_id"].astype("string")
    b["year"] = pd.to_numeric(b["year"]).astype("Int64")
    b["amount"] = pd.to_numeric(b["amount"]).astype("float64")
    bad = ~b["provider_type"].isin(["institution", "pharmacy"]).fillna(False)
    if bad.any():
        raise MonitoringError(f"budgets: provider_type must be 'institution' or 'pharmacy'; got {sorted(set(b.loc[bad, 'provider_type'].astype(str)))}")
    if b[need].isna().any().any():
        rows = (np.flatnonzero(b[need].isna().any(axis=1).to_numpy()) + 1).tolist()
        raise MonitoringError(f"budgets: empty required value in row(s) {rows[:10]}")
    if (b["amount"] < 0).any():
        rows = (np.flatnonzero((b["amount"] < 0).to_numpy()) + 1).tolist()
        raise MonitoringError(f"budgets: negative amount in row(s) {rows[:10]}")
    dup = b.duplicated(["provider_type", "provider_id", "year"], keep=False)
    if dup.any():
        keys = b.loc[dup, ["provider_type", "provider_id", "year"]].astype(str).agg(":".join, axis=1).unique().tolist()
        raise MonitoringError(f"budgets: duplicate (provider_type, provider_id, year): {keys[:10]}")
    known = pd.MultiIndex.from_frame(providers[_PROVIDER_COLS].astype(object))
    key = pd.MultiIndex.from_frame(b[_PROVIDER_COLS].astype(object))
    dangling = ~key.isin(known)
    if dangling.any():
        ids = sorted({f"{t}:{i}" for t, i in zip(b.loc[dangling, "provider_type"], b.loc[dangling, "provider_id"])})
        raise MonitoringError(
            f"budgets 引用了不存在的机构/药店 / budgets refer to {len(ids)} unknown provider(s): {ids[:10]}"
            + (" …" if len(ids) > 10 else "") + " (provider_id must be an institution_id or pharmacy_id of the store)")
    return b.reset_index(drop=True)


def _level(dev: pd.Series, warn_above: float, refuse_above: float) -> pd.Series:
    d = dev.round(9)
    lvl = np.where(d > refuse_above, "refuse", np.where(d > warn_above, "warn", "ok"))
    return pd.Series(lvl, index=dev.index, dtype="string")


def budget_pace(
    source: Any,
    *,
    budgets: pd.DataFrame | None = None,
    warn_above: float = 0.05,
    refuse_above: float = 0.10,
    through: str | None = None,
) -> pd.DataFrame:
    """Each budgeted provider's cumulative fund spend against its time-proportional budget, month by month.

    Parameters
    ----------
    source : Store or mapping of DataFrames
        Needs ``claims``, ``institutions`` (and ``pharmacies``); ``budgets`` unless given.
    budgets : DataFrame, optional
        provider_type, provider_id, year, amount (default: the source's ``budgets`` table).
    warn_above, refuse_above : float
        Deviation thresholds: above ``warn_above`` (+5 %) → ``warn`` (约谈提醒/暂缓支付), above
        ``refuse_above`` (+10 %) → ``refuse`` (拒付/限期整改).
    through : str, optional
        Last month reported, ``"YYYY-MM"`` (default: the month of the last claim start).

    Returns
    -------
    DataFrame
        One row per budgeted provider, year and reported month: provider_type, provider_id, year,
        month (``"YYYY-MM"``), months_elapsed, budget, spend (settled that month), cumulative,
        expected (= budget × months_elapsed / 12), pace (= cumulative / expected), deviation
        (= pace − 1), level (``ok``/``warn``/``refuse``) and action (Chinese). Budgets of years
        outside the reported months give no rows; providers without a budget are not listed.

    Raises
    ------
    MonitoringError
        No budgets, or budgets naming unknown providers, duplicate keys, negative amounts.

    Notes
    -----
    The settlement month is the discharge month for inpatient stays (``end_time``), the start
    month otherwise; months run from the first claim start's month (see the module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> data = {"institutions": pd.DataFrame({"institution_id": ["H1"]}),
    ...         "claims": pd.DataFrame({"claim_id": ["C1"], "claim_type": ["outpatient"],
    ...             "institution_id": ["H1"], "start_time": ["2024-03-01"], "fund_amount": [1120.0]}),
    ...         "budgets": pd.DataFrame({"provider_type": ["institution"], "provider_id": ["H1"],
    ...             "year": [2024], "amount": [4000.0]})}
    >>> r = budget_pace(data)
    >>> r[["month", "months_elapsed", "expected", "deviation", "level", "action"]].to_dict("records")
    [{'month': '2024-03', 'months_elapsed': 1, 'expected': 333.33, 'deviation': 2.36, 'level': 'refuse', 'action': '拒付/限期整改'}]
    """
    if not (0 <= warn_above <= refuse_above):
        raise ParameterError(f"need 0 <= warn_above <= refuse_above; got {warn_above}, {refuse_above}")
    if budgets is None:
        if not _has(source, "budgets"):
            raise MonitoringError(
                "没有预算表 / no budgets: add budgets.csv (provider_type, provider_id, year, amount) to the bundle "
                "and load it, or pass budgets=DataFrame")
        budgets = _table(source, "budgets", ["provider_type", "provider_id", "year", "amount"])
    b = _check_budgets(budgets, _providers(source))
    claims = _table(source, "claims", ["claim_type", "institution_id", "pharmacy_id", "start_time", "end_time", "fund_amount"])
    out_cols = ["provider_type", "provider_id", "year", "month", "months_elapsed", "budget", "spend", "cumulative",
                "expected", "pace", "deviation", "level", "action"]
    if claims.empty or b.empty:
        return _empty(out_cols)
    claims = _with_provider(claims)
    inpatient = (claims["claim_type"] == "inpatient").fillna(False) & claims["end_time"].notna()
    settled = claims["end_time"].where(inpatient, claims["start_time"])
    claims["m"] = _ym(settled)
    first = int(_ym(claims["start_time"]).min())
    last = _parse_ym(through) if through else int(_ym(claims["start_time"]).max())
    if last < first:
        raise ParameterError(f"through={through!r} is before the first claim month {_ym_str(first)}")
    spend = claims[(claims["m"] >= first) & (claims["m"] <= last)].groupby(
        ["provider_type", "provider_id", "m"])["fund_amount"].sum()
    rows = []
    for year, by in b.groupby("year", sort=True):
        a, z = max(first, int(year) * 12), min(last, int(year) * 12 + 11)
        if a > z:
            continue
        months = np.arange(a, z + 1)
        grid = pd.MultiIndex.from_product([range(len(by)), months], names=["i", "m"]).to_frame(index=False)
        by = by.reset_index(drop=True)
        grid["provider_type"] = by["provider_type"].to_numpy()[grid["i"]]
        grid["provider_id"] = by["provider_id"].to_numpy()[grid["i"]]
        grid["budget"] = by["amount"].to_numpy()[grid["i"]]
        key = pd.MultiIndex.from_frame(grid[["provider_type", "provider_id", "m"]].astype(object))
        s = spend.copy()
        s.index = pd.MultiIndex.from_arrays([s.index.get_level_values(k).astype(object) for k in range(3)])
        grid["spend"] = s.reindex(key).fillna(0.0).to_numpy()
        grid["cumulative"] = grid.groupby("i")["spend"].cumsum()
        grid["months_elapsed"] = grid["m"] - a + 1
        grid["year"] = int(year)
        rows.append(grid)
    if not rows:
        return _empty(out_cols)
    df = pd.concat(rows, ignore_index=True)
    df["expected"] = df["budget"] * df["months_elapsed"] / 12
    with np.errstate(divide="ignore", invalid="ignore"):
        pace = np.where(df["expected"] > 0, df["cumulative"] / df["expected"],
                        np.where(df["cumulative"] > 0, np.inf, np.nan))
    df["pace"] = pace
    df["deviation"] = df["pace"] - 1
    df["level"] = _level(df["deviation"], warn_above, refuse_above)
    df["action"] = df["level"].map({k: v[1] for k, v in LEVELS.items()}).astype("string")
    df["month"] = df["m"].map(_ym_str).astype("string")
    for c in ("spend", "cumulative", "expected", "budget"):
        df[c] = df[c].round(2)
    df["pace"] = df["pace"].round(6)
    df["deviation"] = df["deviation"].round(6)
    df = df.astype({"provider_type": "string", "provider_id": "string", "months_elapsed": "int64", "year": "int64"})
    return df.sort_values(["provider_type", "provider_id", "year", "month"], kind="stable")[out_cols].reset_index(drop=True)


def _empty(cols: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in cols})


def pace_alerts(pace: pd.DataFrame, *, warn_above: float | None = None) -> pd.DataFrame:
    """Provider-years above pace in any month, with the latest month's status.

    Parameters
    ----------
    pace : DataFrame
        The result of :func:`budget_pace`.
    warn_above : float, optional
        Unused unless given: re-threshold on ``deviation`` instead of the ``level`` column.

    Returns
    -------
    DataFrame
        provider_type, provider_id, year, month (latest reported), budget, cumulative, expected,
        deviation, level, action (all at the latest month), peak_deviation, peak_month,
        first_breach (first month above the warning threshold) and months_breached; sorted by
        latest level (``refuse`` first), then deviation (descending).

    Examples
    --------
    >>> import pandas as pd
    >>> pace = pd.DataFrame({"provider_type": ["institution"] * 2, "provider_id": ["H1"] * 2,
    ...     "year": [2024] * 2, "month": ["2024-01", "2024-02"], "budget": [1200.0] * 2,
    ...     "cumulative": [112.0, 190.0], "expected": [100.0, 200.0], "deviation": [0.12, -0.05],
    ...     "level": ["refuse", "ok"], "action": ["拒付/限期整改", "正常"]})
    >>> pace_alerts(pace)[["month", "level", "peak_deviation", "first_breach", "months_breached"]].to_dict("records")
    [{'month': '2024-02', 'level': 'ok', 'peak_deviation': 0.12, 'first_breach': '2024-01', 'months_breached': 1}]
    """
    cols = ["provider_type", "provider_id", "year", "month", "budget", "cumulative", "expected", "deviation", "level",
            "action", "peak_deviation", "peak_month", "first_breach", "months_breached"]
    if pace.empty:
        return _empty(cols)
    p = pace.sort_values(["provider_type", "provider_id", "year", "month"], kind="stable")
    breach = (p["deviation"].round(9) > warn_above) if warn_above is not None else (p["level"] != "ok")
    p = p.assign(_b=breach.fillna(False).to_numpy(bool))
    g = p.groupby(["provider_type", "provider_id", "year"], sort=False)
    latest = g.tail(1).set_index(["provider_type", "provider_id", "year"])
    peak_idx = p["deviation"].fillna(-np.inf).groupby([p["provider_type"], p["provider_id"], p["year"]], sort=False).idxmax()
    peak = p.loc[peak_idx.to_numpy(), ["provider_type", "provider_id", "year", "deviation", "month"]].set_index(
        ["provider_type", "provider_id", "year"])
    firsts = p[p["_b"]].groupby(["provider_type", "provider_id", "year"], sort=False)["month"].first()
    n = g["_b"].sum()
    out = latest[["month", "budget", "cumulative", "expected", "deviation", "level", "action"]].copy()
    out["peak_deviation"] = peak["deviation"].reindex(out.index)
    out["peak_month"] = peak["month"].reindex(out.index)
    out["first_breach"] = firsts.reindex(out.index)
    out["months_breached"] = n.reindex(out.index).astype("int64")
    out = out[out["months_breached"] > 0].reset_index()
    sev = out["level"].map({"refuse": 0, "warn": 1, "ok": 2})
    out = out.assign(_s=sev).sort_values(["_s", "deviation", "provider_type", "provider_id"],
                                         ascending=[True, False, True, True], kind="stable")
    return out[cols].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# Monthly key indicators 重点指标
# ----------------------------------------------------------------------------------------------
def monthly_indicators(
    source: Any,
    *,
    by: str = "provider",
    chronic_prefixes: Sequence[str] = CHRONIC_PREFIXES,
) -> pd.DataFrame:
    """Monthly key indicators per provider (``by="provider"``) or per provider and department.

    Parameters
    ----------
    source : Store or mapping of DataFrames
        Needs ``claims`` and ``patients`` (for the population groups).
    by : {"provider", "department"}
        Level of the rows.
    chronic_prefixes : sequence of str
        ICD-10 prefixes of chronic/special outpatient diseases (门诊慢特病); default
        :data:`CHRONIC_PREFIXES`.

    Returns
    -------
    DataFrame
        One row per provider (and department) and month with claims, month = month of the
        claim start (visit or admission): visits (outpatient + pharmacy settlements), admissions
        (inpatient), visit_cost, avg_visit_cost, avg_visit_cost_growth (against the calendar
        month before; NaN when that month had no visits), inpatient_cost, avg_inpatient_cost,
        avg_inpatient_cost_employee / _resident / _low_income (a low-income person counts in
        ``low_income`` only; others by ``insurance_type``), chronic_outpatient_cost (outpatient
        total of chronic diagnoses) and fund_spend (fund amount of all claims). Costs are
        ``total_amount`` (yuan).

    Examples
    --------
    >>> import pandas as pd
    >>> claims = pd.DataFrame({"claim_id": ["C1", "C2", "C3"], "claim_type": ["outpatient"] * 3,
    ...     "institution_id": ["H1"] * 3, "patient_id": ["P1"] * 3, "department": ["内科"] * 3,
    ...     "start_time": ["2024-01-05", "2024-02-05", "2024-02-06"], "diagnosis_code": ["I10", "J06.9", "I10"],
    ...     "total_amount": [100.0, 100.0, 140.0], "fund_amount": [80.0, 80.0, 100.0]})
    >>> r = monthly_indicators({"claims": claims})
    >>> r[["month", "visits", "avg_visit_cost", "avg_visit_cost_growth", "chronic_outpatient_cost"]].to_dict("records")
    [{'month': '2024-01', 'visits': 1, 'avg_visit_cost': 100.0, 'avg_visit_cost_growth': nan, 'chronic_outpatient_cost': 100.0}, {'month': '2024-02', 'visits': 2, 'avg_visit_cost': 120.0, 'avg_visit_cost_growth': 0.2, 'chronic_outpatient_cost': 140.0}]
    """
    if by not in ("provider", "department"):
        raise ParameterError(f"by must be 'provider' or 'department'; got {by!r}")
    claims = _table(source, "claims", ["claim_type", "institution_id", "pharmacy_id", "patient_id", "department",
                                       "start_time", "diagnosis_code", "total_amount", "fund_amount"])
    keys = [*_PROVIDER_COLS] + (["department"] if by == "department" else [])
    metrics = ["visits", "admissions", "visit_cost", "avg_visit_cost", "avg_visit_cost_growth", "inpatient_cost",
               "avg_inpatient_cost", *[f"avg_inpatient_cost_{g}" for g in _GROUPS], "chronic_outpatient_cost",
               "fund_spend"]
    if claims.empty:
        return _empty([*keys, "month", *metrics])
    claims = _with_provider(claims)
    pats = _table(source, "patients", ["patient_id", "insurance_type", "low_income"]) if _has(source, "patients") else None
    if pats is not None and len(pats):
        grp = pats["insurance_type"].astype("string").where(~pats["low_income"].fillna(False).astype(bool), "low_income")
        claims["group"] = claims["patient_id"].map(pd.Series(grp.to_numpy(), index=pats["patient_id"].to_numpy()))
    else:
        claims["group"] = pd.NA
    claims["m"] = _ym(claims["start_time"])
    ctype = claims["claim_type"].astype("string")
    visit = ctype.isin(["outpatient", "pharmacy"]).fillna(False)
    inpat = (ctype == "inpatient").fillna(False)
    dx = claims["diagnosis_code"].astype("string").str.upper()
    chronic = (ctype == "outpatient").fillna(False) & dx.str.startswith(tuple(p.upper() for p in chronic_prefixes)).fillna(False)
    amt = claims["total_amount"].astype("float64")
    claims = claims.assign(
        _visit=visit.astype("int64"), _adm=inpat.astype("int64"), _vcost=amt.where(visit, 0.0),
        _icost=amt.where(inpat, 0.0), _chronic=amt.where(chronic, 0.0),
    )
    for g in _GROUPS:
        sel = inpat & (claims["group"] == g).fillna(False)
        claims[f"_n_{g}"] = sel.astype("int64")
        claims[f"_c_{g}"] = amt.where(sel, 0.0)
    gk = [*keys, "m"]
    agg = claims.groupby(gk, dropna=False, sort=True).agg(
        visits=("_visit", "sum"), admissions=("_adm", "sum"), visit_cost=("_vcost", "sum"),
        inpatient_cost=("_icost", "sum"), chronic_outpatient_cost=("_chronic", "sum"), fund_spend=("fund_amount", "sum"),
        **{f"_n_{g}": (f"_n_{g}", "sum") for g in _GROUPS}, **{f"_c_{g}": (f"_c_{g}", "sum") for g in _GROUPS},
    ).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        agg["avg_visit_cost"] = (agg["visit_cost"] / agg["visits"].where(agg["visits"] > 0)).round(2)
        agg["avg_inpatient_cost"] = (agg["inpatient_cost"] / agg["admissions"].where(agg["admissions"] > 0)).round(2)
        for g in _GROUPS:
            agg[f"avg_inpatient_cost_{g}"] = (agg[f"_c_{g}"] / agg[f"_n_{g}"].where(agg[f"_n_{g}"] > 0)).round(2)
    prev = agg[[*keys, "m", "avg_visit_cost"]].rename(columns={"avg_visit_cost": "_prev"})
    prev = prev.assign(m=prev["m"] + 1)
    agg = agg.merge(prev, on=[*keys, "m"], how="left", sort=False)
    agg["avg_visit_cost_growth"] = (agg["avg_visit_cost"] / agg["_prev"] - 1).round(6)
    for c in ("visit_cost", "inpatient_cost", "chronic_outpatient_cost", "fund_spend"):
        agg[c] = agg[c].round(2)
    agg["month"] = agg["m"].map(_ym_str).astype("string")
    agg = agg.astype({"visits": "int64", "admissions": "int64"})
    return agg.sort_values([*keys, "month"], kind="stable")[[*keys, "month", *metrics]].reset_index(drop=True)


_CRITERIA = {
    "visits": ("visits", "就诊人次前列"),
    "cost_growth": ("avg_visit_cost_growth", "次均费用增长前列"),
    "fund_spend": ("fund_spend", "基金支出前列"),
}


def focus_list(indicators: pd.DataFrame, *, month: str | None = None, n: int = 3, min_visits: int = 20) -> pd.DataFrame:
    """The top ``n`` rows of one month by visits, by average-cost growth and by fund spend (重点审核).

    Parameters
    ----------
    indicators : DataFrame
        The result of :func:`monthly_indicators` (provider or department level).
    month : str, optional
        ``"YYYY-MM"`` (default: the latest month in ``indicators``).
    n : int
        How many per criterion.
    min_visits : int
        Cost growth is ranked only where the month has at least this many visits (small
        providers' averages swing by chance).

    Returns
    -------
    DataFrame
        criterion (``visits``/``cost_growth``/``fund_spend``), criterion_zh, rank, the row's keys
        (provider_type, provider_id[, department]), month, value, visits. Ties are broken by key.

    Examples
    --------
    >>> import pandas as pd
    >>> ind = pd.DataFrame({"provider_type": ["institution"] * 4, "provider_id": ["H1", "H2", "H3", "H4"],
    ...     "month": ["2024-01"] * 4, "visits": [50, 10, 30, 40], "avg_visit_cost_growth": [0.1, 0.9, 0.3, -0.2],
    ...     "fund_spend": [5.0, 9.0, 1.0, 2.0]})
    >>> focus_list(ind, n=2)[["criterion", "rank", "provider_id", "value"]].to_dict("records")
    [{'criterion': 'visits', 'rank': 1, 'provider_id': 'H1', 'value': 50.0}, {'criterion': 'visits', 'rank': 2, 'provider_id': 'H4', 'value': 40.0}, {'criterion': 'cost_growth', 'rank': 1, 'provider_id': 'H3', 'value': 0.3}, {'criterion': 'cost_growth', 'rank': 2, 'provider_id': 'H1', 'value': 0.1}, {'criterion': 'fund_spend', 'rank': 1, 'provider_id': 'H2', 'value': 9.0}, {'criterion': 'fund_spend', 'rank': 2, 'provider_id': 'H1', 'value': 5.0}]
    """
    if n < 1:
        raise ParameterError(f"n must be >= 1; got {n}")
    keys = [c for c in ("provider_type", "provider_id", "department") if c in indicators.columns]
    cols = ["criterion", "criterion_zh", "rank", *keys, "month", "value", "visits"]
    if indicators.empty:
        return _empty(cols)
    month = month or str(indicators["month"].max())
    m = indicators[indicators["month"] == month]
    parts = []
    for crit, (col, zh) in _CRITERIA.items():
        d = m if crit != "cost_growth" else m[m["visits"] >= min_visits]
        d = d[d[col].notna() & np.isfinite(d[col].astype("float64"))]
        d = d.sort_values([col, *keys], ascending=[False] + [True] * len(keys), kind="stable").head(n)
        parts.append(pd.DataFrame({
            "criterion": crit, "criterion_zh": zh, "rank": np.arange(1, len(d) + 1),
            **{k: d[k].to_numpy() for k in keys}, "month": month, "value": d[col].astype("float64").to_numpy(),
            "visits": d["visits"].to_numpy(),
        }))
    out = pd.concat(parts, ignore_index=True)
    return out.astype({k: "string" for k in keys})[cols]


# ----------------------------------------------------------------------------------------------
# Double-random inspection 双随机、一公开
# ----------------------------------------------------------------------------------------------
def inspection_candidates(
    source: Any,
    *,
    scores: pd.DataFrame | None = None,
    complaints: pd.DataFrame | None = None,
    violations: pd.DataFrame | None = None,
    weights: Mapping[str, float] | None = None,
    provider_types: Sequence[str] = ("institution", "pharmacy"),
) -> pd.DataFrame:
    """Every institution and pharmacy with its risk inputs and selection weight.

    Parameters
    ----------
    source : Store or mapping of DataFrames
        Where the institutions and pharmacies come from.
    scores : DataFrame, optional
        Provider scores of :func:`graphkit.scan.scan` (entity_type, entity_id, score); 0 when absent.
    complaints, violations : DataFrame, optional
        One row per complaint / past violation with ``provider_id`` (and optionally
        ``provider_type``, ``count``); a row without provider_type matches the id of either type.
    weights : mapping, optional
        Overrides of :data:`DEFAULT_RISK_WEIGHTS`:
        weight = base + score×s + complaint×min(c, complaint_cap) + violation×min(v, violation_cap).
    provider_types : sequence of str
        Which kinds of provider may be drawn.

    Returns
    -------
    DataFrame
        provider_type, provider_id, score, complaints, violations, weight, share (weight / sum
        within the provider type), sorted by type and id.

    Examples
    --------
    >>> import pandas as pd
    >>> data = {"institutions": pd.DataFrame({"institution_id": ["H1", "H2"]})}
    >>> sc = pd.DataFrame({"entity_type": ["institution"], "entity_id": ["H2"], "score": [0.5]})
    >>> inspection_candidates(data, scores=sc)[["provider_id", "weight", "share"]].to_dict("records")
    [{'provider_id': 'H1', 'weight': 1.0, 'share': 0.25}, {'provider_id': 'H2', 'weight': 3.0, 'share': 0.75}]
    """
    w = {**DEFAULT_RISK_WEIGHTS, **(weights or {})}
    unknown = set(w) - set(DEFAULT_RISK_WEIGHTS)
    if unknown:
        raise ParameterError(f"unknown weight(s) {sorted(unknown)}; known: {sorted(DEFAULT_RISK_WEIGHTS)}")
    if any(v < 0 for v in w.values()) or w["base"] <= 0:
        raise ParameterError(f"weights must be >= 0 and base > 0; got {w}")
    pop = _providers(source)
    pop = pop[pop["provider_type"].isin(list(provider_types))].reset_index(drop=True)
    if scores is not None and len(scores):
        s = scores[scores["entity_type"].isin(["institution", "pharmacy"])]
        sv = pd.Series(s["score"].astype("float64").to_numpy(),
                       index=pd.MultiIndex.from_arrays([s["entity_type"].astype(object), s["entity_id"].astype(str).astype(object)]))
        sv = sv.groupby(level=[0, 1]).max()
        pop["score"] = sv.reindex(pd.MultiIndex.from_frame(pop[_PROVIDER_COLS].astype(object))).fillna(0.0).to_numpy()
    else:
        pop["score"] = 0.0
    pop["complaints"] = _attach_counts(pop, _count_by_provider(complaints, "complaints"), "complaints")
    pop["violations"] = _attach_counts(pop, _count_by_provider(violations, "violations"), "violations")
    pop["weight"] = (w["base"] + w["score"] * pop["score"].clip(0, 1)
                     + w["complaint"] * pop["complaints"].clip(0, w["complaint_cap"])
                     + w["violation"] * pop["violations"].clip(0, w["violation_cap"])).round(6)
    pop["share"] = (pop["weight"] / pop.groupby("provider_type")["weight"].transform("sum")).round(6)
    return pop


def draw_inspection(
    source: Any,
    inspectors: Sequence[str] | pd.DataFrame,
    *,
    seed: int,
    n_targets: int | Mapping[str, int] = 5,
    inspectors_per_target: int = 2,
    scores: pd.DataFrame | None = None,
    complaints: pd.DataFrame | None = None,
    violations: pd.DataFrame | None = None,
    weights: Mapping[str, float] | None = None,
    conflicts: pd.DataFrame | None = None,
    log: AuditLog | None = None,
    note: str = "",
) -> pd.DataFrame:
    """Double-random inspection (双随机): draw targets (riskier ones more likely) and their inspectors.

    Targets are drawn without replacement with probability proportional to the weight of
    :func:`inspection_candidates` (successive sampling, done as Efraimidis–Spirakis keys
    ``log(u) / weight`` over the candidates sorted by type and id), separately per provider type
    when ``n_targets`` is a mapping. Each target then gets ``inspectors_per_target`` distinct
    inspectors drawn uniformly from the roster, skipping those with a conflict (回避). The draw
    is recorded in the audit log (action ``inspection_draw``) with its seed, parameters, data
    fingerprint and result.

    Parameters
    ----------
    source : Store or mapping of DataFrames
        Where the institutions and pharmacies come from.
    inspectors : sequence of str or DataFrame
        The inspector roster (执法检查人员名录库): ids, or a DataFrame with ``inspector_id``.
    seed : int
        Random seed: the same seed and inputs give the same draw.
    n_targets : int or mapping
        Targets in total, or per provider type (``{"institution": 3, "pharmacy": 5}``).
    inspectors_per_target : int
        Inspectors per target (at least 2 by the rules).
    scores, complaints, violations, weights
        Risk inputs, see :func:`inspection_candidates`.
    conflicts : DataFrame, optional
        ``inspector_id``, ``provider_id`` pairs that must not meet (回避).
    log : AuditLog, optional
        Where to record the draw (default :func:`graphkit.audit.default_log`).
    note : str
        Free text stored with the audit entry (e.g. the campaign name).

    Returns
    -------
    DataFrame
        draw_id, order (draw order), provider_type, provider_id, score, complaints, violations,
        weight, share, inspectors (``;``-joined ids), seed. ``attrs["audit"]`` holds the entry.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> from graphkit.audit import AuditLog
    >>> log = AuditLog(os.path.join(tempfile.mkdtemp(), "audit.jsonl"))
    >>> data = {"institutions": pd.DataFrame({"institution_id": [f"H{i}" for i in range(10)]})}
    >>> d = draw_inspection(data, ["A", "B", "C"], seed=7, n_targets=3, log=log)
    >>> d2 = draw_inspection(data, ["A", "B", "C"], seed=7, n_targets=3, log=log)
    >>> d["provider_id"].tolist() == d2["provider_id"].tolist(), len(log.find("inspection_draw"))
    (True, 2)
    """
    if isinstance(inspectors, pd.DataFrame):
        if "inspector_id" not in inspectors.columns:
            raise ParameterError("inspectors DataFrame needs an inspector_id column")
        roster = inspectors["inspector_id"].astype(str).tolist()
    else:
        roster = [str(x) for x in inspectors]
    roster = sorted(dict.fromkeys(roster))
    if inspectors_per_target < 1 or len(roster) < inspectors_per_target:
        raise ParameterError(f"need at least inspectors_per_target={inspectors_per_target} (>= 1) inspectors; got {len(roster)}")
    cand = inspection_candidates(source, scores=scores, complaints=complaints, violations=violations, weights=weights)
    if isinstance(n_targets, Mapping):
        quota = {str(k): int(v) for k, v in n_targets.items()}
    else:
        quota = {"*": int(n_targets)}
    if any(v < 0 for v in quota.values()):
        raise ParameterError(f"n_targets must be >= 0; got {n_targets}")
    rng = np.random.default_rng(int(seed))
    u = rng.random(len(cand))
    key = np.log(np.maximum(u, np.finfo(float).tiny)) / cand["weight"].to_numpy(dtype="float64")
    cand = cand.assign(_key=key)
    chosen = []
    for typ, k in sorted(quota.items()):
        pool = cand if typ == "*" else cand[cand["provider_type"] == typ]
        if typ != "*" and typ not in ("institution", "pharmacy"):
            raise ParameterError(f"n_targets: unknown provider type {typ!r}")
        if k > len(pool):
            raise ParameterError(f"n_targets: {k} {typ if typ != '*' else 'providers'} wanted, only {len(pool)} available")
        chosen.append(pool.sort_values("_key", ascending=False, kind="stable").head(k))
    drawn = pd.concat(chosen).sort_values("_key", ascending=False, kind="stable").drop(columns="_key").reset_index(drop=True)
    bad: dict[str, set[str]] = {}
    if conflicts is not None and len(conflicts):
        for i, p in zip(conflicts["inspector_id"].astype(str), conflicts["provider_id"].astype(str)):
            bad.setdefault(p, set()).add(i)
    assigned = []
    for pid in drawn["provider_id"].astype(str):
        ok = [r for r in roster if r not in bad.get(pid, set())]
        if len(ok) < inspectors_per_target:
            raise MonitoringError(f"only {len(ok)} inspector(s) without a conflict for {pid}; need {inspectors_per_target}")
        pick = rng.choice(len(ok), size=inspectors_per_target, replace=False)
        assigned.append(";".join(ok[j] for j in sorted(pick)))
    drawn["inspectors"] = pd.Series(assigned, dtype="string")
    params = {"seed": int(seed), "n_targets": quota, "inspectors_per_target": int(inspectors_per_target),
              "weights": {**DEFAULT_RISK_WEIGHTS, **(weights or {})}, "candidates": int(len(cand)),
              "roster": roster, "data_fingerprint": _fingerprint(source)}
    draw_id = "DR-" + hashlib.sha256(json.dumps(
        {**params, "candidates_weights": cand[["provider_type", "provider_id", "weight"]].astype(str).values.tolist()},
        sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
    drawn.insert(0, "order", np.arange(1, len(drawn) + 1))
    drawn.insert(0, "draw_id", draw_id)
    drawn["seed"] = int(seed)
    entry = _log(log).append(
        "inspection_draw", draw_id=draw_id, **params, note=note,
        targets=[{"provider": f"{t}:{i}", "weight": float(w), "inspectors": s.split(";")}
                 for t, i, w, s in zip(drawn["provider_type"], drawn["provider_id"], drawn["weight"], drawn["inspectors"])])
    drawn.attrs["audit"] = entry
    return drawn[["draw_id", "order", "provider_type", "provider_id", "score", "complaints", "violations", "weight",
                  "share", "inspectors", "seed"]]


# ----------------------------------------------------------------------------------------------
# Review sampling 审核抽查
# ----------------------------------------------------------------------------------------------
def _manual_flags(claims: pd.DataFrame, column: str) -> pd.Series:
    s = claims[column]
    if column == "settlement_mode":
        v = s.astype("string").str.strip().str.lower()
        return v.isin([m.lower() for m in MANUAL_MODES]).fillna(False).astype(bool)
    if pd.api.types.is_bool_dtype(s):
        return s.fillna(False).astype(bool)
    if pd.api.types.is_numeric_dtype(s):
        return (s.fillna(0) != 0).astype(bool)
    return s.astype("string").str.strip().str.lower().isin(_TRUE).fillna(False).astype(bool)


def review_sample(
    source: Any,
    *,
    seed: int,
    rate: float = 0.05,
    manual_threshold: float = 50_000.0,
    amount_column: str = "total_amount",
    manual_column: str | None = None,
    start: str | None = None,
    end: str | None = None,
    log: AuditLog | None = None,
    note: str = "",
) -> pd.DataFrame:
    """Claims for review: a random ``rate`` (≥ 5 %) of inpatient claims plus every manual claim ≥ 50,000 yuan.

    Parameters
    ----------
    source : Store or mapping of DataFrames
        Needs ``claims``.
    seed : int
        Random seed: the same seed and claims give the same sample.
    rate : float
        Share of inpatient claims drawn at random; ``ceil(rate × n)`` are taken.
    manual_threshold : float
        Manual claims at or above this ``amount_column`` value are all taken.
    amount_column : str
        ``total_amount`` (default) or ``fund_amount``.
    manual_column : str, optional
        The claims column marking manual claims (``manual`` or ``settlement_mode``, see the
        module docstring). Default: ``manual`` if present, else ``settlement_mode`` if present,
        else none, and then every claim at or above the threshold is taken.
    start, end : str, optional
        Only claims starting on/after ``start`` and before ``end`` (ISO dates).
    log : AuditLog, optional
        Where to record the sample (default :func:`graphkit.audit.default_log`).
    note : str
        Free text stored with the audit entry.

    Returns
    -------
    DataFrame
        claim_id, claim_type, provider_type, provider_id, patient_id, start_time, total_amount,
        fund_amount, manual (NA without a manual column), reason (``random_inpatient``,
        ``manual_large`` or both joined by ``;``), reason_zh; sorted by claim_id.
        ``attrs`` holds sample_id, counts, the manual basis and the audit entry.

    Examples
    --------
    >>> import os, tempfile, pandas as pd
    >>> from graphkit.audit import AuditLog
    >>> log = AuditLog(os.path.join(tempfile.mkdtemp(), "audit.jsonl"))
    >>> claims = pd.DataFrame({"claim_id": [f"C{i:02d}" for i in range(40)], "claim_type": ["inpatient"] * 40,
    ...     "institution_id": ["H1"] * 40, "start_time": ["2024-01-01"] * 40,
    ...     "total_amount": [60000.0] + [1000.0] * 39, "fund_amount": [1.0] * 40})
    >>> s = review_sample({"claims": claims}, seed=1, log=log)
    >>> len(s), s.attrs["random_n"], "C00" in set(s["claim_id"])
    (3, 2, True)
    """
    if not (0 < rate <= 1):
        raise ParameterError(f"rate must be in (0, 1]; got {rate}")
    if amount_column not in ("total_amount", "fund_amount"):
        raise ParameterError(f"amount_column must be total_amount or fund_amount; got {amount_column!r}")
    available = _columns(source, "claims")
    if manual_column is None:
        manual_column = next((c for c in ("manual", "settlement_mode") if c in available), None)
    elif manual_column not in available:
        raise MonitoringError(f"claims have no column {manual_column!r} (have: {available})")
    cols = ["claim_id", "claim_type", "institution_id", "pharmacy_id", "patient_id", "start_time", "total_amount",
            "fund_amount"]
    claims = _table(source, "claims", cols + ([manual_column] if manual_column else []))
    if start:
        claims = claims[claims["start_time"] >= pd.Timestamp(start)]
    if end:
        claims = claims[claims["start_time"] < pd.Timestamp(end)]
    claims = _with_provider(claims.sort_values("claim_id", kind="stable").reset_index(drop=True))
    inpat = np.flatnonzero((claims["claim_type"] == "inpatient").fillna(False).to_numpy(bool))
    k = math.ceil(round(rate * inpat.size, 9))
    rng = np.random.default_rng(int(seed))
    rand = np.zeros(len(claims), bool)
    rand[inpat[rng.permutation(inpat.size)[:k]]] = True
    manual = _manual_flags(claims, manual_column) if manual_column else pd.Series(True, index=claims.index)
    large = (claims[amount_column] >= manual_threshold).fillna(False).to_numpy(bool) & manual.to_numpy(bool)
    take = rand | large
    out = claims.loc[take].copy()
    reason = np.where(rand[take] & large[take], "random_inpatient;manual_large",
                      np.where(rand[take], "random_inpatient", "manual_large"))
    zh = {"random_inpatient": "住院随机抽查", "manual_large": "手工报销大额(≥阈值)",
          "random_inpatient;manual_large": "住院随机抽查;手工报销大额(≥阈值)"}
    out["manual"] = manual[take].astype("boolean") if manual_column else pd.array([pd.NA] * len(out), dtype="boolean")
    out["reason"] = pd.Series(reason, index=out.index, dtype="string")
    out["reason_zh"] = out["reason"].map(zh).astype("string")
    out = out[["claim_id", "claim_type", "provider_type", "provider_id", "patient_id", "start_time", "total_amount",
               "fund_amount", "manual", "reason", "reason_zh"]].reset_index(drop=True)
    basis = manual_column or "none: every claim at or above the threshold"
    ids = out["claim_id"].astype(str).tolist()
    params = {"seed": int(seed), "rate": rate, "manual_threshold": manual_threshold, "amount_column": amount_column,
              "manual_basis": basis, "start": start, "end": end, "data_fingerprint": _fingerprint(source)}
    sample_id = "RS-" + hashlib.sha256(json.dumps({**params, "claims": ids}, sort_keys=True).encode()).hexdigest()[:12]
    entry = _log(log).append("review_sample", sample_id=sample_id, **params, note=note,
                             inpatient_claims=int(inpat.size), random_n=int(k), manual_large_n=int(large.sum()),
                             claims=ids)
    out.attrs.update({"sample_id": sample_id, "inpatient_claims": int(inpat.size), "random_n": int(k),
                      "manual_large_n": int(large.sum()), "manual_basis": basis, "audit": entry})
    return out


# ----------------------------------------------------------------------------------------------
# Penalties and ranking 处罚与末位排名
# ----------------------------------------------------------------------------------------------
def _rulebook(rulebook: Any = None, tiers: Sequence[tuple[float | None, int]] | None = None):
    from .dossier.rulebook import Rulebook

    rb = rulebook if isinstance(rulebook, Rulebook) else Rulebook.load(rulebook)
    if tiers is not None:
        t = [{"multiple": int(m)} if up is None else {"upto": float(up), "multiple": int(m)} for up, m in tiers]
        if not t or "upto" in t[-1]:
            raise ParameterError("tiers must end with (None, multiple): the last tier has no upper bound")
        rb = Rulebook({**rb.data, "penalty_tiers": t}, f"{rb.source} (tiers overridden)")
    return rb


def penalty_tiers(rulebook: Any = None, *, tiers: Sequence[tuple[float | None, int]] | None = None) -> pd.DataFrame:
    """The penalty tiers in force: tier label, lower (exclusive), upper (inclusive), multiple.

    Parameters
    ----------
    rulebook : Rulebook or path, optional
        Default: the rulebook shipped with graphkit (``graphkit/data/rulebook.toml``).
    tiers : sequence of (upper bound or None, multiple), optional
        Overrides the rulebook's tiers; the last has no bound.

    Examples
    --------
    >>> penalty_tiers(tiers=[(1000, 1), (None, 2)])[["tier", "multiple"]].to_dict("records")
    [{'tier': '≤1,000', 'multiple': 1}, {'tier': '>1,000', 'multiple': 2}]
    """
    rb = _rulebook(rulebook, tiers)
    rows, lo = [], 0.0
    for t in rb.data["penalty_tiers"]:
        up = float(t["upto"]) if "upto" in t else None
        label = f"≤{up:,.0f}" if up is not None else f">{lo:,.0f}"
        rows.append({"tier": label, "lower": lo, "upper": up if up is not None else np.inf, "multiple": int(t["multiple"])})
        lo = up if up is not None else lo
    return pd.DataFrame(rows)


def penalties(
    violations: pd.DataFrame,
    *,
    rulebook: Any = None,
    tiers: Sequence[tuple[float | None, int]] | None = None,
    amount_column: str = "amount",
) -> pd.DataFrame:
    """Penalty multiple and amount per violation by amount tier (reuses the dossier rulebook).

    Parameters
    ----------
    violations : DataFrame
        One row per violation with its amount (违规金额, yuan) in ``amount_column``; other
        columns (provider_id …) are kept.
    rulebook : Rulebook or path, optional
        Whose ``penalty_tiers`` apply (default: graphkit's rulebook: ≤10,000 → 2×,
        ≤50,000 → 3×, ≤100,000 → 4×, above → 5×).
    tiers : sequence of (upper bound or None, multiple), optional
        Configurable thresholds overriding the rulebook's.
    amount_column : str
        The amount column.

    Returns
    -------
    DataFrame
        The input plus tier, penalty_multiple, penalty_amount (= amount × multiple), recover (= amount).

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"provider_id": ["H1", "H2", "H3"], "amount": [10000.0, 10000.01, 200000.0]})
    >>> penalties(v)[["amount", "penalty_multiple", "penalty_amount"]].to_dict("records")
    [{'amount': 10000.0, 'penalty_multiple': 2, 'penalty_amount': 20000.0}, {'amount': 10000.01, 'penalty_multiple': 3, 'penalty_amount': 30000.03}, {'amount': 200000.0, 'penalty_multiple': 5, 'penalty_amount': 1000000.0}]
    """
    if amount_column not in violations.columns:
        raise MonitoringError(f"violations need an {amount_column!r} column; got {list(violations.columns)}")
    rb = _rulebook(rulebook, tiers)
    tt = penalty_tiers(rb)
    out = violations.copy().reset_index(drop=True)
    amt = pd.to_numeric(out[amount_column]).astype("float64")
    if (amt < 0).any() or amt.isna().any():
        raise MonitoringError("violation amounts must be present and non-negative")
    mult = [rb.penalty_multiple(float(a)) for a in amt]
    idx = np.searchsorted(tt["upper"].to_numpy(), amt.to_numpy(), side="left")
    out["tier"] = pd.Series(tt["tier"].to_numpy()[np.minimum(idx, len(tt) - 1)], dtype="string")
    out["penalty_multiple"] = np.array(mult, dtype="int64")
    out["penalty_amount"] = (amt * out["penalty_multiple"]).round(2)
    out["recover"] = amt.round(2)
    return out


def yearly_scores(
    source: Any,
    year: int | None = None,
    *,
    scores: pd.DataFrame | None = None,
    pace: pd.DataFrame | None = None,
    violations: pd.DataFrame | None = None,
    complaints: pd.DataFrame | None = None,
    deductions: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """A transparent yearly assessment score (年度考核评分) per institution and pharmacy: 100 − deductions.

    Deductions (defaults in :data:`DEFAULT_DEDUCTIONS`): ``risk`` × the scan's risk score;
    ``warn``/``refuse`` for the worst budget-pace level of the year; ``violation`` per past
    violation (capped at ``violation_cap``); ``complaint`` per complaint (capped at
    ``complaint_cap``). Violations/complaints with a ``year`` column count only in that year.
    A bureau with its own assessment scores passes them to :func:`bottom_ranking` directly.

    Parameters
    ----------
    source : Store or mapping of DataFrames
        Where the institutions and pharmacies come from.
    year : int, optional
        The assessment year (default: the year of the last claim start).
    scores, pace, violations, complaints : DataFrame, optional
        Scan scores, :func:`budget_pace` output, violation and complaint rows.
    deductions : mapping, optional
        Overrides of :data:`DEFAULT_DEDUCTIONS`.

    Returns
    -------
    DataFrame
        provider_type, provider_id, year, score, risk_deduction, pace_deduction,
        violation_deduction, complaint_deduction.

    Examples
    --------
    >>> import pandas as pd
    >>> data = {"institutions": pd.DataFrame({"institution_id": ["H1", "H2"]})}
    >>> v = pd.DataFrame({"provider_id": ["H2", "H2"], "amount": [1.0, 2.0]})
    >>> yearly_scores(data, 2024, violations=v)[["provider_id", "score"]].to_dict("records")
    [{'provider_id': 'H1', 'score': 100.0}, {'provider_id': 'H2', 'score': 90.0}]
    """
    d = {**DEFAULT_DEDUCTIONS, **(deductions or {})}
    unknown = set(d) - set(DEFAULT_DEDUCTIONS)
    if unknown:
        raise ParameterError(f"unknown deduction(s) {sorted(unknown)}; known: {sorted(DEFAULT_DEDUCTIONS)}")
    if year is None:
        starts = _table(source, "claims", ["start_time"])["start_time"]
        if starts.notna().sum() == 0:
            raise MonitoringError("no claims: give the assessment year")
        year = int(starts.max().year)
    pop = inspection_candidates(source, scores=scores)[["provider_type", "provider_id", "score"]]
    pop = pop.rename(columns={"score": "_risk"})
    pop["year"] = int(year)
    pop["risk_deduction"] = (d["risk"] * pop["_risk"]).round(2)
    if pace is not None and len(pace):
        p = pace[pace["year"] == int(year)]
        worst = p.assign(_s=p["level"].map({"ok": 0.0, "warn": d["warn"], "refuse": d["refuse"]}).astype("float64")) \
                 .groupby(["provider_type", "provider_id"])["_s"].max()
        key = pd.MultiIndex.from_frame(pop[_PROVIDER_COLS].astype(object))
        worst.index = pd.MultiIndex.from_arrays([worst.index.get_level_values(0).astype(object),
                                                 worst.index.get_level_values(1).astype(object)])
        pop["pace_deduction"] = worst.reindex(key).fillna(0.0).to_numpy()
    else:
        pop["pace_deduction"] = 0.0
    v = _attach_counts(pop, _count_by_provider(violations, "violations", int(year)), "violations")
    c = _attach_counts(pop, _count_by_provider(complaints, "complaints", int(year)), "complaints")
    pop["violation_deduction"] = np.minimum(d["violation"] * v, d["violation_cap"]).round(2)
    pop["complaint_deduction"] = np.minimum(d["complaint"] * c, d["complaint_cap"]).round(2)
    pop["score"] = (100 - pop[["risk_deduction", "pace_deduction", "violation_deduction", "complaint_deduction"]]
                    .sum(axis=1)).clip(lower=0).round(2)
    return pop[["provider_type", "provider_id", "year", "score", "risk_deduction", "pace_deduction",
                "violation_deduction", "complaint_deduction"]].reset_index(drop=True)


def bottom_ranking(
    yearly: pd.DataFrame,
    *,
    pharmacy_share: float = 0.03,
    institution_share: float = 0.03,
    institution_min: int = 1,
    institution_max: int = 3,
    include_ties: bool = True,
) -> pd.DataFrame:
    """The bottom of the yearly ranking (末位): 3 % of pharmacies, 1–3 institutions by default.

    Per year and provider type, ``k`` = ``ceil(share × count)`` lowest scores (pharmacies at
    least 1; institutions clipped to ``[institution_min, institution_max]``). With
    ``include_ties`` every provider tied with the k-th score is listed too.

    Parameters
    ----------
    yearly : DataFrame
        provider_type, provider_id, year, score (higher is better), e.g. :func:`yearly_scores`.
    pharmacy_share, institution_share : float
        Shares of each type at the bottom.
    institution_min, institution_max : int
        Bounds on the number of institutions.
    include_ties : bool
        List providers tied with the last one too.

    Returns
    -------
    DataFrame
        provider_type, provider_id, year, score, rank (1 = lowest), of (providers of that type
        ranked) and the other input columns.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.DataFrame({"provider_type": ["pharmacy"] * 40, "provider_id": [f"Y{i:02d}" for i in range(40)],
    ...                   "year": 2024, "score": [float(i) for i in range(40)]})
    >>> bottom_ranking(y)[["provider_id", "rank", "of"]].to_dict("records")
    [{'provider_id': 'Y00', 'rank': 1, 'of': 40}, {'provider_id': 'Y01', 'rank': 2, 'of': 40}]
    """
    if not (0 <= pharmacy_share <= 1 and 0 <= institution_share <= 1) or not (0 <= institution_min <= institution_max):
        raise ParameterError("shares must be in [0, 1] and 0 <= institution_min <= institution_max")
    need = {"provider_type", "provider_id", "year", "score"}
    if not need <= set(yearly.columns):
        raise MonitoringError(f"yearly scores need columns {sorted(need)}; got {list(yearly.columns)}")
    parts = []
    for (year, typ), g in yearly.groupby(["year", "provider_type"], sort=True):
        n = len(g)
        if typ == "pharmacy":
            k = max(1, math.ceil(round(pharmacy_share * n, 9)))
        else:
            k = min(max(math.ceil(round(institution_share * n, 9)), institution_min), institution_max)
        k = min(k, n)
        if k == 0:
            continue
        g = g.sort_values(["score", "provider_id"], kind="stable").reset_index(drop=True)
        g["rank"] = np.arange(1, n + 1)
        cut = g["score"].iloc[k - 1]
        sel = g[(g["score"] <= cut)] if include_ties else g.head(k)
        parts.append(sel.assign(of=n))
    cols = ["provider_type", "provider_id", "year", "score", "rank", "of"]
    if not parts:
        return _empty(cols)
    out = pd.concat(parts, ignore_index=True)
    rest = [c for c in out.columns if c not in cols]
    return out[cols + rest]


# ----------------------------------------------------------------------------------------------
# Notebook helpers
# ----------------------------------------------------------------------------------------------
def from_env(env: Mapping[str, str] | None = None) -> tuple[Any, pd.DataFrame | None]:
    """The store and provider scores the workbench environment points at (``GRAPHKIT_STORE`` …).

    Returns ``(store, scores)``; ``scores`` is None when ``scores.csv`` is absent.

    Examples
    --------
    >>> from_env({"GRAPHKIT_STORE": "/nonexistent"})  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    graphkit.errors.StoreError: no store at /nonexistent
    """
    from .workbench.data import WorkbenchConfig

    cfg = WorkbenchConfig.from_env(env)
    if cfg.neo4j_uri:
        from .neo4jstore import Neo4jStore, connection_from_env

        store: Any = Neo4jStore(connection_from_env(cfg.neo4j_uri))
    else:
        from .store import open_store

        store = open_store(cfg.store)  # type: ignore[arg-type]
    scores = read_csv(cfg.scores, dtype={"entity_id": "string"}) if cfg.scores and cfg.scores.is_file() else None
    return store, scores


def example_inputs(source: Any, *, seed: int = 0, scores: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Illustrative supervision inputs for a demo: inspector roster, complaints, past violations.

    Bundles do not carry these; a bureau passes its own. Here: 12 inspectors (``JC01`` …),
    complaints drawn at random (more for riskier providers), and past violations = the
    providers with fund at risk in ``scores`` (amount = ``amount_at_risk``).

    Examples
    --------
    >>> import pandas as pd
    >>> x = example_inputs({"institutions": pd.DataFrame({"institution_id": ["H1", "H2"]})}, seed=1)
    >>> sorted(x), len(x["inspectors"])
    (['complaints', 'inspectors', 'violations'], 12)
    """
    rng = np.random.default_rng(int(seed))
    cand = inspection_candidates(source, scores=scores)
    lam = 0.3 + 3 * cand["score"].to_numpy()
    n = rng.poisson(lam)
    complaints = pd.DataFrame({"provider_type": np.repeat(cand["provider_type"].to_numpy(), n),
                               "provider_id": np.repeat(cand["provider_id"].to_numpy(), n)})
    if scores is not None and len(scores) and "amount_at_risk" in scores.columns:
        v = scores[scores["entity_type"].isin(["institution", "pharmacy"]) & (scores["amount_at_risk"] > 0)]
        violations = pd.DataFrame({"provider_type": v["entity_type"].astype("string").to_numpy(),
                                   "provider_id": v["entity_id"].astype("string").to_numpy(),
                                   "amount": v["amount_at_risk"].astype("float64").to_numpy()})
    else:
        violations = pd.DataFrame({"provider_type": pd.Series([], dtype="string"),
                                   "provider_id": pd.Series([], dtype="string"), "amount": pd.Series([], dtype="float64")})
    inspectors = pd.DataFrame({"inspector_id": [f"JC{i:02d}" for i in range(1, 13)]})
    return {"inspectors": inspectors, "complaints": complaints, "violations": violations.reset_index(drop=True)}


# ----------------------------------------------------------------------------------------------
# Charts (matplotlib, imported on use)
# ----------------------------------------------------------------------------------------------
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
              "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC")


def _plt():
    try:
        import matplotlib.pyplot as plt
        from matplotlib import font_manager
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        raise GraphkitError("charts need matplotlib: pip install matplotlib") from None
    have = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [f for f in _CJK_FONTS if f in have]
    if cjk:
        plt.rcParams["font.family"] = [*cjk[:1], "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return plt, bool(cjk)


def _t(zh: str, en: str, cjk: bool) -> str:
    return f"{zh} / {en}" if cjk else en


def _done(plt, fig):
    fig.tight_layout()
    plt.close(fig)  # shown once when returned to a notebook, not again by pyplot
    return fig


def plot_budget_pace(pace: pd.DataFrame, *, providers: int = 8, warn_above: float = 0.05, refuse_above: float = 0.10):
    """Line chart of the deviation from budget pace per month for the ``providers`` most over pace
    at the latest month.

    Examples
    --------
    >>> import pandas as pd
    >>> pace = pd.DataFrame({"provider_type": ["institution"] * 2, "provider_id": ["H1"] * 2, "year": [2024] * 2,
    ...     "month": ["2024-01", "2024-02"], "deviation": [0.12, 0.07]})
    >>> plot_budget_pace(pace).axes[0].get_ylabel()[-9:]
    'deviation'
    """
    plt, cjk = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    if len(pace):
        p = pace.sort_values(["provider_type", "provider_id", "year", "month"], kind="stable")
        latest = p.groupby(["provider_type", "provider_id", "year"])["deviation"].last().sort_values(ascending=False)
        for (t, i, y), _ in latest.head(providers).items():
            d = pace[(pace["provider_type"] == t) & (pace["provider_id"] == i) & (pace["year"] == y)]
            ax.plot(d["month"].astype(str), d["deviation"] * 100, marker="o", label=f"{i} ({y})")
        ax.legend(fontsize=8, ncol=2)
    ax.axhline(warn_above * 100, color="orange", ls="--", lw=1)
    ax.axhline(refuse_above * 100, color="red", ls="--", lw=1)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel(_t("超序时进度 %", "% deviation", cjk))
    ax.set_title(_t("预算序时进度（超 5% 约谈提醒，超 10% 拒付）", "Budget pace (warn > +5 %, refuse > +10 %)", cjk))
    ax.tick_params(axis="x", rotation=45)
    return _done(plt, fig)


def plot_indicators(indicators: pd.DataFrame, focus: pd.DataFrame | None = None):
    """Monthly totals (visits, admissions, fund spend) and the focus list's values.

    Examples
    --------
    >>> import pandas as pd
    >>> ind = pd.DataFrame({"provider_type": ["institution"], "provider_id": ["H1"], "month": ["2024-01"],
    ...     "visits": [3], "admissions": [1], "fund_spend": [10.0]})
    >>> len(plot_indicators(ind).axes)  # totals, their twin axis, focus list
    3
    """
    plt, cjk = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    tot = indicators.groupby("month")[["visits", "admissions", "fund_spend"]].sum() if len(indicators) else None
    ax = axes[0]
    if tot is not None:
        ax.bar(tot.index.astype(str), tot["fund_spend"] / 1e4, color="#4c78a8")
        ax2 = ax.twinx()
        ax2.plot(tot.index.astype(str), tot["visits"], color="#f58518", marker="o", label="visits")
        ax2.plot(tot.index.astype(str), tot["admissions"] * 10, color="#54a24b", marker="s", label="admissions ×10")
        ax2.legend(fontsize=8, loc="upper left")
        ax.tick_params(axis="x", rotation=45)
    ax.set_ylabel(_t("基金支出(万元)", "fund spend (10k yuan)", cjk))
    ax.set_title(_t("月度总量", "Monthly totals", cjk))
    ax = axes[1]
    if focus is not None and len(focus):
        lab = focus["criterion"].astype(str) + " #" + focus["rank"].astype(str) + " " + focus["provider_id"].astype(str)
        if "department" in focus.columns:
            lab = lab + " " + focus["department"].astype(str)
        share = focus.groupby("criterion")["value"].transform(lambda s: s / s.abs().max() if s.abs().max() else s)
        colors = focus["criterion"].map({"visits": "#f58518", "cost_growth": "#e45756", "fund_spend": "#4c78a8"})
        ax.barh(lab[::-1], share[::-1], color=colors[::-1])
        ax.set_xlabel(_t("相对于本指标最大值", "relative to the criterion's top value", cjk))
    ax.set_title(_t("重点审核名单", "Focus list", cjk))
    return _done(plt, fig)


def plot_inspection(candidates: pd.DataFrame, draw: pd.DataFrame):
    """Selection weight of every candidate (sorted), the drawn targets highlighted.

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"provider_type": ["institution"] * 2, "provider_id": ["H1", "H2"], "weight": [1.0, 3.0]})
    >>> d = c.iloc[[1]]
    >>> len(plot_inspection(c, d).axes)
    1
    """
    plt, cjk = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.8))
    c = candidates.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)
    hit = pd.MultiIndex.from_frame(c[_PROVIDER_COLS].astype(str)).isin(
        pd.MultiIndex.from_frame(draw[_PROVIDER_COLS].astype(str)))
    ax.bar(np.arange(len(c)), c["weight"], color=np.where(hit, "#e45756", "#bab0ac"), width=1.0)
    for x in np.flatnonzero(hit):
        ax.annotate(str(c["provider_id"].iloc[x]), (x, c["weight"].iloc[x]), fontsize=7, rotation=90,
                    xytext=(0, 3), textcoords="offset points", ha="center")
    ax.set_xlabel(_t("候选机构（按权重排序）", "candidates by weight", cjk))
    ax.set_ylabel(_t("抽取权重", "selection weight", cjk))
    ax.set_title(_t("双随机抽取：红色为抽中对象", "Double-random draw: drawn targets in red", cjk))
    return _done(plt, fig)


def plot_review_sample(sample: pd.DataFrame, *, manual_threshold: float = 50_000.0):
    """Amounts of the sampled claims by reason (log scale), with the manual threshold.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"total_amount": [100.0, 60000.0], "reason": ["random_inpatient", "manual_large"]})
    >>> len(plot_review_sample(s).axes)
    1
    """
    plt, cjk = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for reason, color in (("random_inpatient", "#4c78a8"), ("manual_large", "#e45756"),
                          ("random_inpatient;manual_large", "#b279a2")):
        v = sample.loc[sample["reason"] == reason, "total_amount"]
        if len(v):
            ax.hist(np.log10(v.clip(lower=1)), bins=30, alpha=0.7, color=color, label=f"{reason} ({len(v)})")
    ax.axvline(np.log10(manual_threshold), color="red", ls="--", lw=1)
    ax.set_xlabel(_t("费用 log10(元)", "amount, log10(yuan)", cjk))
    ax.set_ylabel(_t("结算单数", "claims", cjk))
    ax.set_title(_t("审核抽查样本", "Review sample", cjk))
    if len(sample):
        ax.legend(fontsize=8)
    return _done(plt, fig)


def plot_penalties(pen: pd.DataFrame):
    """Violation and penalty amounts per tier.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"tier": ["≤10,000"], "amount": [100.0], "penalty_amount": [200.0]})
    >>> len(plot_penalties(p).axes)
    1
    """
    plt, cjk = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if len(pen):
        g = pen.groupby("tier", sort=False)[["amount", "penalty_amount"]].sum()
        x = np.arange(len(g))
        ax.bar(x - 0.2, g["amount"] / 1e4, 0.4, label=_t("违规金额", "violation", cjk), color="#4c78a8")
        ax.bar(x + 0.2, g["penalty_amount"] / 1e4, 0.4, label=_t("罚款", "penalty", cjk), color="#e45756")
        ax.set_xticks(x, g.index.astype(str))
        ax.legend(fontsize=8)
    ax.set_ylabel(_t("万元", "10k yuan", cjk))
    ax.set_title(_t("按金额档次的罚款", "Penalties by amount tier", cjk))
    return _done(plt, fig)


def plot_ranking(yearly: pd.DataFrame, bottom: pd.DataFrame):
    """Yearly scores per provider type (sorted), the bottom of the ranking in red.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.DataFrame({"provider_type": ["pharmacy"] * 2, "provider_id": ["Y1", "Y2"], "year": 2024,
    ...                   "score": [90.0, 99.0]})
    >>> len(plot_ranking(y, y.iloc[[0]]).axes)
    1
    """
    plt, cjk = _plt()
    types = [t for t in ("institution", "pharmacy") if (yearly["provider_type"] == t).any()] or ["institution"]
    fig, axes = plt.subplots(1, len(types), figsize=(5.5 * len(types), 3.5), squeeze=False)
    low = set(zip(bottom["provider_type"].astype(str), bottom["provider_id"].astype(str)))
    for ax, t in zip(axes[0], types):
        g = yearly[yearly["provider_type"] == t].sort_values("score", kind="stable")
        hit = [(t, str(i)) in low for i in g["provider_id"]]
        ax.bar(np.arange(len(g)), g["score"], color=np.where(hit, "#e45756", "#72b7b2"), width=1.0)
        ax.set_ylim(max(0, float(g["score"].min()) - 10) if len(g) else 0, 100)
        ax.set_title(_t("年度评分末位（红）", "Yearly score, bottom in red", cjk) + f": {t}")
    return _done(plt, fig)
