"""Findings evidence per provider-side entity: what the detectors found there.

A finding is attributed to each institution, pharmacy, doctor and terminal by the share of its
claims settled there (an entity the finding names without any of its claims gets the whole
score and no amount). Per entity and kind:

* ``A`` = Σ finding score × fund of the finding's claims there (score-weighted amount),
* ``W`` = Σ finding score × share of the finding's claims there.

Each is compared with what the entity's own volume would carry at the city's rate of that kind
(``r_A = ΣA / city fund``, ``r_W = ΣW / city claims``): ``ρ_kind = max(A / (r_A·fund),
W / (r_W·claims))`` — "how many times the city's flagged share". Kinds add up, each kind
counting equally (independent detectors agreeing): ``ρ = Σ_kind ρ_kind``.

The findings part is ``ln(1 + ρ)``: with exposure as the base, the expected amount at risk of a
provider is ``fund · r · (1 + ρ)`` — its volume at the city's base rate, plus what the detectors
flagged there in units of that rate. It is 0 without findings and bounded by the data (no more
than all of a provider's fund can be flagged: ``ρ ≤ Σ_kind 1/r_kind``), not by a constant.

Examples
--------
>>> import numpy as np
>>> np.round(findings_part(np.array([0.0, 1.0, 100.0])), 3).tolist()
[0.0, 0.693, 4.615]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..findings import PROVIDER_TYPES, Finding
from ..projections import provider_key

__all__ = ["attributions", "findings_evidence", "findings_part"]


def attributions(store: Any, findings: list[Finding]) -> pd.DataFrame:
    """(finding, entity_type, entity_id, kind, score, w, amount, patients) per finding and
    provider-side entity, vectorised: ``w`` = finding score × share of its claims settled
    there; entities a finding names without any of its claims there get the full score and
    no amount. ``patients`` is a list of the distinct patients of those claims."""
    cols = ["f", "entity_type", "entity_id", "kind", "score", "w", "amount", "patients"]
    if not findings:
        return pd.DataFrame(columns=cols)
    meta = pd.DataFrame({
        "f": np.arange(len(findings)), "kind": [f.kind for f in findings],
        "score": [float(f.score) for f in findings], "n": [max(len(f.claims), 1) for f in findings],
    })
    pairs = pd.DataFrame([(i, c) for i, f in enumerate(findings) for c in f.claims], columns=["f", "claim_id"])
    parts = []
    if len(pairs):
        claims = store.claims_by_id(pairs["claim_id"].unique(),
                                    ["patient_id", "institution_id", "pharmacy_id", "doctor_id", "terminal_id", "fund_amount"])
        ptype, pid = provider_key(claims)
        claims = claims.assign(provider_type=ptype, provider_id=pid)
        long = pairs.merge(claims, on="claim_id", how="inner")
        for tcol, icol in (("provider_type", "provider_id"), ("doctor", "doctor_id"), ("terminal", "terminal_id")):
            sub = long[["f", icol, "fund_amount", "patient_id"]].rename(columns={icol: "entity_id"})
            sub["entity_type"] = long[tcol].to_numpy() if tcol == "provider_type" else tcol
            sub = sub[sub["entity_id"].notna()]
            g = sub.groupby(["f", "entity_type", "entity_id"], sort=False)
            parts.append(pd.DataFrame({"size": g.size(), "sum": g["fund_amount"].sum(),
                                       "patients": g["patient_id"].agg(lambda s: list(pd.unique(s.dropna())))}).reset_index())
    att = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["f", "entity_type", "entity_id", "size", "sum", "patients"])
    att = att.merge(meta, on="f")
    att["w"] = att["score"] * att["size"] / att["n"]
    att["amount"] = att["sum"].astype(float)
    listed = pd.DataFrame([(i, e.type, e.id) for i, f in enumerate(findings) for e in f.entities if e.type in PROVIDER_TYPES],
                          columns=["f", "entity_type", "entity_id"]).drop_duplicates()
    if len(listed):
        key = ["f", "entity_type", "entity_id"]
        seen = pd.MultiIndex.from_frame(att[key].astype({"entity_id": "string"})) if len(att) else pd.MultiIndex.from_tuples([], names=key)
        extra = listed[~pd.MultiIndex.from_frame(listed[key].astype({"entity_id": "string"})).isin(seen)].merge(meta, on="f")
        extra = extra.assign(w=extra["score"], amount=0.0, patients=[[] for _ in range(len(extra))])
        att = pd.concat([att, extra], ignore_index=True)
    att["entity_id"] = att["entity_id"].astype(str)
    return att[cols]


def findings_part(rho: np.ndarray) -> np.ndarray:
    """Findings part ``ln(1 + ρ)``: the expected amount at risk grows from the exposure's base
    rate by the flagged share (see the module docstring)."""
    return np.log1p(np.maximum(np.asarray(rho, float), 0.0))


def findings_evidence(att: pd.DataFrame, volume: pd.DataFrame) -> pd.DataFrame:
    """Per entity touched by a finding: finding_count, amount_at_risk, top_kinds, people, kinds,
    ρ (``flagged_ratio``) and the findings part.

    ``volume``: entity_type, entity_id, fund_total, claims for every entity (the city's totals
    are taken over institutions and pharmacies).
    """
    cols = ["entity_type", "entity_id", "finding_count", "amount_at_risk", "top_kinds", "people_flagged",
            "kinds", "flagged_ratio", "findings"]
    if att.empty:
        return pd.DataFrame(columns=cols)
    key = ["entity_type", "entity_id"]
    prov = volume[volume["entity_type"].isin(["institution", "pharmacy"])]
    city_fund = max(float(prov["fund_total"].sum()), 1e-9)
    city_claims = max(float(prov["claims"].sum()), 1.0)
    a = att.assign(wa=att["score"] * att["amount"])
    pk = a.groupby(key + ["kind"], sort=False).agg(A=("wa", "sum"), W=("w", "sum")).reset_index()
    # city rate per kind: the attributions to institutions and pharmacies (every claim has one)
    base = pk[pk["entity_type"].isin(["institution", "pharmacy"])].groupby("kind")[["A", "W"]].sum()
    rA = (base["A"] / city_fund).reindex(pk["kind"]).to_numpy()
    rW = (base["W"] / city_claims).reindex(pk["kind"]).to_numpy()
    # kinds with no institution/pharmacy attribution (e.g. doctor-only): use their whole sums
    allk = pk.groupby("kind")[["A", "W"]].sum()
    rA = np.where(np.isnan(rA) | (rA <= 0), (allk["A"] / city_fund).reindex(pk["kind"]).to_numpy(), rA)
    rW = np.where(np.isnan(rW) | (rW <= 0), (allk["W"] / city_claims).reindex(pk["kind"]).to_numpy(), rW)
    vol = volume.set_index(key)[["fund_total", "claims"]]
    v = vol.reindex(pd.MultiIndex.from_frame(pk[key]))
    fund = np.maximum(v["fund_total"].fillna(0.0).to_numpy(float), 1.0)
    claims = np.maximum(v["claims"].fillna(0.0).to_numpy(float), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ra = np.where(rA > 0, pk["A"].to_numpy() / (rA * fund), 0.0)
        rw = np.where(rW > 0, pk["W"].to_numpy() / (rW * claims), 0.0)
    pk["rho"] = np.nan_to_num(np.maximum(ra, rw))
    g = att.groupby(key, sort=False)
    out = pd.DataFrame({
        "finding_count": g.size(),
        "amount_at_risk": g["amount"].sum().round(2),
        "top_kinds": g["kind"].agg(lambda s: ";".join(s.value_counts().sort_index(kind="stable").sort_values(ascending=False, kind="stable").index)),
        "people_flagged": g["patients"].agg(lambda s: len({p for lst in s for p in lst})),
        "kinds": g["kind"].nunique(),
        "flagged_ratio": pk.groupby(key, sort=False)["rho"].sum(),
    }).reset_index()
    out["findings"] = findings_part(out["flagged_ratio"].to_numpy(float))
    return out[cols]
