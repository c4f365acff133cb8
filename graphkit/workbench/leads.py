"""Leads: findings as table rows (with the fund attributed to providers), filters, sorting,
totals by kind and by provider, and the one-line lead label."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..findings import KINDS, Finding, kind_label
from .styles import _provider_label, yuan

__all__ = ["LEAD_COLUMNS", "LeadFilter", "leads_frame", "lead_attribution", "filter_leads", "sort_leads", "totals_by_kind", "totals_by_provider", "lead_label"]


LEAD_COLUMNS = [
    "id", "kind", "kind_zh", "score", "amount", "n_claims", "start", "end",
    "providers", "provider_names", "regions", "summary", "rule_id", "rule_name", "rule_level",
]


def lead_attribution(findings: Iterable[Finding], claims: pd.DataFrame,
                     providers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fund of each finding's claims per provider (institution or pharmacy).

    Parameters
    ----------
    findings
        The findings.
    claims
        Claims with ``claim_id``, ``institution_id``, ``pharmacy_id``, ``fund_amount``.
    providers
        Optional ``provider`` (``"institution:H1"``), ``name``, ``region`` per provider.

    Returns
    -------
    DataFrame
        ``finding_id, provider, name, region, claims, fund``, one row per finding and provider.

    Examples
    --------
    >>> f = Finding.create("shared_card", key=["K1"], claims=["C1", "C2"])
    >>> c = pd.DataFrame({"claim_id": ["C1", "C2"], "institution_id": ["H1", None],
    ...                   "pharmacy_id": [None, "Y1"], "fund_amount": [10.0, 5.0]})
    >>> lead_attribution([f], c)[["provider", "fund"]].values.tolist()
    [['institution:H1', 10.0], ['pharmacy:Y1', 5.0]]
    """
    cols = ["finding_id", "provider", "name", "region", "claims", "fund"]
    pairs = [(f.id, c) for f in findings for c in f.claims]
    if not pairs or claims.empty:
        return pd.DataFrame({c: pd.Series([], dtype="float64" if c == "fund" else "int64" if c == "claims" else "object")
                             for c in cols})
    link = pd.DataFrame(pairs, columns=["finding_id", "claim_id"])
    c = claims[["claim_id", "institution_id", "pharmacy_id", "fund_amount"]].copy()
    inst = c["institution_id"].astype("object")
    pharm = c["pharmacy_id"].astype("object")
    c["provider"] = np.where(pd.notna(inst), "institution:" + inst.fillna("").astype(str),
                             np.where(pd.notna(pharm), "pharmacy:" + pharm.fillna("").astype(str), None))
    c["claim_id"] = c["claim_id"].astype("object")
    m = link.merge(c[["claim_id", "provider", "fund_amount"]], on="claim_id", how="inner").dropna(subset=["provider"])
    out = (m.groupby(["finding_id", "provider"], sort=True)["fund_amount"].agg(["size", "sum"])
           .reset_index().rename(columns={"size": "claims", "sum": "fund"}))
    out["fund"] = out["fund"].astype(float).round(2)
    if providers is not None and len(providers):
        out = out.merge(providers[["provider", "name", "region"]], on="provider", how="left")
    else:
        out["name"], out["region"] = None, None
    out["name"] = out["name"].astype("object").where(out["name"].notna(), "")
    out["region"] = out["region"].astype("object").where(out["region"].notna(), "")
    return out[cols]


def leads_frame(findings: Iterable[Finding], attribution: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per finding: the leads table.

    Providers and regions come from ``attribution`` (see :func:`lead_attribution`),
    falling back to the institution and pharmacy entities the finding lists.

    Examples
    --------
    >>> f = Finding.create("shared_card", key=["K1"], score=0.5, amount_at_risk=9.0, claims=["C1"])
    >>> row = leads_frame([f]).iloc[0]
    >>> print(row["kind_zh"], row["n_claims"], row["amount"])
    冒用/盗用医保卡 1 9.0
    """
    by_f: dict[str, pd.DataFrame] = {}
    if attribution is not None and len(attribution):
        by_f = {k: v.sort_values("fund", ascending=False) for k, v in attribution.groupby("finding_id", sort=False)}
    rows = []
    for f in findings:
        a = by_f.get(f.id)
        if a is not None:
            providers = list(a["provider"])
            names = [n for n in a["name"] if n]
            regions = sorted({r for r in a["region"] if r})
        else:
            providers = [f"{e.type}:{e.id}" for e in f.entities if e.type in ("institution", "pharmacy")]
            names, regions = [], []
        rows.append({
            "id": f.id,
            "kind": f.kind,
            "kind_zh": kind_label(f.kind, "zh"),
            "score": float(f.score),
            "amount": float(f.amount_at_risk),
            "n_claims": len(f.claims),
            "start": pd.Timestamp(f.period.get("start")) if f.period.get("start") else pd.NaT,
            "end": pd.Timestamp(f.period.get("end")) if f.period.get("end") else pd.NaT,
            "providers": ";".join(providers),
            "provider_names": ";".join(names),
            "regions": ";".join(regions),
            "summary": f.summary,
            # rule_violation leads: the rule and its 判断等级 (可疑 / 违规); empty for other kinds
            "rule_id": str(f.evidence.get("rule_id", "")) if f.kind == "rule_violation" else "",
            "rule_name": str(f.evidence.get("rule_name", "")) if f.kind == "rule_violation" else "",
            "rule_level": str(f.evidence.get("level", "")) if f.kind == "rule_violation" else "",
        })
    df = pd.DataFrame(rows, columns=LEAD_COLUMNS)
    df["score"] = df["score"].astype(float)
    df["amount"] = df["amount"].astype(float)
    df["n_claims"] = df["n_claims"].astype(int)
    df["start"] = pd.to_datetime(df["start"])
    df["end"] = pd.to_datetime(df["end"])
    return df


@dataclass
class LeadFilter:
    """What the leads queue shows: filters and sort order.

    Examples
    --------
    >>> LeadFilter(kinds=("shared_card",), min_score=0.5).sort_by
    'score'
    """

    kinds: tuple[str, ...] = ()
    region: str = ""
    provider: str = ""
    start: date | None = None
    end: date | None = None
    min_amount: float = 0.0
    max_amount: float | None = None
    min_score: float = 0.0
    rules: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    sort_by: str = "score"
    descending: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


SORT_KEYS = {"score": "score", "amount": "amount", "n_claims": "n_claims", "start": "start", "kind": "kind"}


def filter_leads(leads: pd.DataFrame, flt: LeadFilter) -> pd.DataFrame:
    """Leads passing ``flt``, sorted as it says.

    A lead passes the period filter when its period overlaps ``[start, end]``; the
    provider filter matches ids or names as a case-insensitive substring. ``rules`` and
    ``levels`` keep the ``rule_violation`` leads of those rules and 判断等级 (可疑 / 违规) only.

    Examples
    --------
    >>> df = pd.DataFrame({"id": ["a", "b"], "kind": ["x", "y"], "score": [0.2, 0.9],
    ...     "amount": [5.0, 1.0], "n_claims": [1, 1], "start": pd.to_datetime(["2024-01-01"] * 2),
    ...     "end": pd.to_datetime(["2024-01-02"] * 2), "providers": ["institution:H1", ""],
    ...     "provider_names": ["", ""], "regions": ["3701", ""]})
    >>> list(filter_leads(df, LeadFilter(min_score=0.1))["id"])
    ['b', 'a']
    >>> list(filter_leads(df, LeadFilter(provider="h1"))["id"])
    ['a']
    >>> df["rule_id"], df["rule_level"] = ["FW-001", ""], ["违规", ""]
    >>> list(filter_leads(df, LeadFilter(levels=("违规",)))["id"])
    ['a']
    """
    m = pd.Series(True, index=leads.index)
    if flt.kinds:
        m &= leads["kind"].isin(list(flt.kinds))
    if flt.region:
        m &= leads["regions"].fillna("").str.split(";").map(lambda rs: flt.region in rs)
    if flt.provider.strip():
        needle = flt.provider.strip().lower()
        hay = (leads["providers"].fillna("") + ";" + leads["provider_names"].fillna("")).str.lower()
        m &= hay.str.contains(needle, regex=False)
    if flt.start is not None:
        m &= leads["end"].isna() | (leads["end"] >= pd.Timestamp(flt.start))
    if flt.end is not None:
        m &= leads["start"].isna() | (leads["start"] < pd.Timestamp(flt.end) + pd.Timedelta(days=1))
    if flt.min_amount:
        m &= leads["amount"] >= flt.min_amount
    if flt.max_amount is not None:
        m &= leads["amount"] <= flt.max_amount
    if flt.min_score:
        m &= leads["score"] >= flt.min_score
    if flt.rules:
        m &= leads.get("rule_id", pd.Series("", index=leads.index)).isin(list(flt.rules))
    if flt.levels:
        m &= leads.get("rule_level", pd.Series("", index=leads.index)).isin(list(flt.levels))
    return sort_leads(leads[m], flt.sort_by, descending=flt.descending)


def sort_leads(leads: pd.DataFrame, by: str = "score", *, descending: bool = True) -> pd.DataFrame:
    """Sort by ``by`` (score, amount, n_claims, start or kind), ties broken by score then id.

    Examples
    --------
    >>> df = pd.DataFrame({"id": ["a", "b"], "score": [0.1, 0.1], "amount": [1.0, 2.0]})
    >>> list(sort_leads(df, "amount")["id"])
    ['b', 'a']
    """
    if by not in SORT_KEYS:
        raise ValueError(f"sort key must be one of {list(SORT_KEYS)}; got {by!r}")
    keys = [SORT_KEYS[by]] + [k for k in ("score", "id") if k != SORT_KEYS[by]]
    asc = [not descending] + [k == "id" for k in keys[1:]]
    return leads.sort_values(keys, ascending=asc, kind="stable", na_position="last")


def totals_by_kind(leads: pd.DataFrame) -> pd.DataFrame:
    """Leads and amount per kind, largest amount first.

    Examples
    --------
    >>> df = pd.DataFrame({"kind": ["a", "a", "b"], "amount": [1.0, 2.0, 5.0]})
    >>> totals_by_kind(df).values.tolist()
    [['b', 'b', 1, 5.0], ['a', 'a', 2, 3.0]]
    """
    if leads.empty:
        return pd.DataFrame({"kind": [], "label": [], "leads": [], "amount": []})
    t = leads.groupby("kind")["amount"].agg(["size", "sum"]).reset_index()
    t.columns = ["kind", "leads", "amount"]
    t.insert(1, "label", t["kind"].map(lambda k: f"{KINDS[k][0]} {k}" if k in KINDS else k))
    return t.sort_values(["amount", "kind"], ascending=[False, True]).reset_index(drop=True)


def totals_by_provider(leads: pd.DataFrame, attribution: pd.DataFrame, *, top: int = 10) -> pd.DataFrame:
    """Fund at risk per provider over the shown leads (from ``attribution``), top ``top``.

    Examples
    --------
    >>> leads = pd.DataFrame({"id": ["f1"]})
    >>> att = pd.DataFrame({"finding_id": ["f1", "f1"], "provider": ["institution:H1", "pharmacy:Y1"],
    ...                     "name": ["一院", ""], "region": ["", ""], "claims": [2, 1], "fund": [3.0, 9.0]})
    >>> totals_by_provider(leads, att)[["provider", "fund"]].values.tolist()
    [['pharmacy:Y1', 9.0], ['institution:H1', 3.0]]
    """
    cols = ["provider", "label", "leads", "claims", "fund"]
    if leads.empty or attribution is None or attribution.empty:
        return pd.DataFrame({c: [] for c in cols})
    a = attribution[attribution["finding_id"].isin(leads["id"])]
    if a.empty:
        return pd.DataFrame({c: [] for c in cols})
    t = a.groupby("provider").agg(leads=("finding_id", "nunique"), claims=("claims", "sum"), fund=("fund", "sum"),
                                  name=("name", "first")).reset_index()
    t["label"] = [_provider_label(p, n) for p, n in zip(t["provider"], t["name"])]
    t["fund"] = t["fund"].round(2)
    return t.sort_values(["fund", "provider"], ascending=[False, True]).head(top)[cols].reset_index(drop=True)


def lead_label(row: Mapping[str, Any]) -> str:
    """A one-line label for a lead in pickers (a rule violation: with its rule id and 判断等级).

    Examples
    --------
    >>> lead_label({"score": 0.9, "kind_zh": "异地", "amount": 10.0, "id": "impossible_travel:ab"})
    '[0.900] 异地 10.00元 impossible_travel:ab'
    >>> lead_label({"score": 0.5, "kind_zh": "规则库违规", "amount": 2.0, "id": "rule_violation:cd",
    ...             "rule_id": "BZ-001", "rule_level": "违规"})
    '[0.500] 规则库违规 BZ-001·违规 2.00元 rule_violation:cd'
    """
    rule = f" {row['rule_id']}·{row.get('rule_level') or '?'}" if row.get("rule_id") else ""
    return f"[{row['score']:.3f}] {row['kind_zh']}{rule} {yuan(row['amount'])} {row['id']}"


# -- evidence graphs -----------------------------------------------------------------
