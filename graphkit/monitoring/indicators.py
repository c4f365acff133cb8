"""Monthly key indicators (重点指标) per provider or per provider and department — visits,
admissions, average costs and their growth, inpatient cost by insurance group, chronic
outpatient cost, fund spend (:func:`monthly_indicators`) — and the focus list (重点审核): the
top rows of one month by visits, by average-cost growth and by fund spend (:func:`focus_list`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError
from .constants import CHRONIC_PREFIXES, _GROUPS, _PROVIDER_COLS
from .source import _empty, _has, _table, _with_provider, _ym, _ym_str

__all__ = ["monthly_indicators", "focus_list"]


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
