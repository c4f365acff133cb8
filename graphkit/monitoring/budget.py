"""Budget pace (序时进度): each budgeted provider's cumulative settled fund spend per month against
its time-proportional budget, with warn/refuse levels (:func:`budget_pace`), and the
provider-years above pace in any month with the latest month's status (:func:`pace_alerts`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError
from .constants import LEVELS, _PROVIDER_COLS
from .source import MonitoringError, _empty, _has, _parse_ym, _providers, _table, _with_provider, _ym, _ym_str

__all__ = ["budget_pace", "pace_alerts"]


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
