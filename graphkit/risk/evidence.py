"""Findings evidence per provider-side entity: what the detectors found there.

A finding is attributed to each institution, pharmacy, doctor and terminal by the share of its
claims settled there (an entity the finding names without any of its claims gets the whole
score and no amount). Per entity and kind:

* ``A`` = Σ finding score × fund of the finding's claims there (score-weighted amount),
* ``W`` = Σ finding score × share of the finding's claims there.

Per entity and kind, ``k`` = Σ finding score × number of the finding's claims there (an entity
named without claims counts one) is compared with what its own volume would carry at the city's
rate of that kind, ``λ = r·claims`` (``r = Σk / city claims``, over institutions and pharmacies).
The relative rate ``θ = k/λ`` is shrunk by empirical Bayes (Poisson–gamma, as in DuMouchel's
GPS signal detection): a gamma prior of mean 1 whose variance is the spread of ``k/λ`` beyond
Poisson noise (method of moments); ``ρ_kind`` is the posterior mean ``(a + k)/(a + λ)``, so one
chance finding at a provider with ten claims is pulled toward the city rate. Kinds add up
(independent detectors agreeing): ``excess = Σ_kind max(0, ρ_kind − 1)``.

The findings part is ``ln(1 + excess)``: with exposure as the base, the expected amount at risk
of a provider is ``fund · r · (1 + excess)`` — its volume at the city's base rate, plus what the
detectors flagged there beyond it, in units of that rate. It is 0 for a provider carrying no
more than the city's flagged share, and bounded by the data, not by a constant.

Examples
--------
>>> import numpy as np
>>> np.round(findings_part(np.array([0.0, 1.0, 100.0])), 3).tolist()
[0.0, 0.693, 4.615]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..findings import PROVIDER_TYPES, Finding
from ..projections import provider_key

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["attributions", "findings_evidence", "findings_part", "signal_of"]


def signal_of(f: Finding) -> str:
    """The test a finding comes from, whose selectivity weighs it in the findings part: its kind;
    for ``rule_violation`` its kind and rule (each rule of the pack is a test of its own: a rule
    that fires at every provider must not dilute one that fires at three).

    >>> from graphkit.findings import Finding
    >>> signal_of(Finding.create("rule_violation", key=("Y1",), score=0.5, evidence={"rule_id": "CF-003"}, summary="x"))
    'rule_violation:CF-003'
    >>> signal_of(Finding.create("card_burst", key=("T1",), score=0.5, summary="x"))
    'card_burst'
    """
    rid = f.evidence.get("rule_id") if f.kind == "rule_violation" else None
    return f"{f.kind}:{rid}" if rid else f.kind


def attributions(store: Store, findings: list[Finding], *, people_out: dict | None = None) -> pd.DataFrame:
    """(finding, entity_type, entity_id, kind, signal, score, w, amount, claims) per finding and
    provider-side entity, vectorised: ``w`` = finding score × share of its claims settled
    there, ``claims`` how many of them; entities a finding names without any of its claims
    there get the full score and no amount; ``witness`` marks the entities the finding names in a
    role of :data:`WITNESS_ROLES`. With ``people_out`` (a dict), its ``"people"``
    is set to the number of distinct patients of flagged claims per (entity_type, entity_id)."""
    cols = ["f", "entity_type", "entity_id", "kind", "signal", "score", "w", "amount", "claims"]
    if not findings:
        return pd.DataFrame(columns=cols)
    meta = pd.DataFrame({
        "f": np.arange(len(findings)), "kind": [f.kind for f in findings], "signal": [signal_of(f) for f in findings],
        "score": [float(f.score) for f in findings], "n": [max(len(f.claims), 1) for f in findings],
    })
    pairs = pd.DataFrame([(i, c) for i, f in enumerate(findings) for c in f.claims], columns=["f", "claim_id"])
    parts: list[pd.DataFrame] = []
    people: list[pd.DataFrame] = []
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
            parts.append(pd.DataFrame({"size": g.size(), "sum": g["fund_amount"].sum()}).reset_index())
            people.append(sub[["entity_type", "entity_id", "patient_id"]].dropna().drop_duplicates())
    att = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["f", "entity_type", "entity_id", "size", "sum"])
    att = att.merge(meta, on="f")
    att["w"] = att["score"] * att["size"] / att["n"]
    att["amount"] = att["sum"].astype(float)
    att["claims"] = att["size"].astype(float)
    listed = pd.DataFrame([(i, e.type, e.id) for i, f in enumerate(findings) for e in f.entities if e.type in PROVIDER_TYPES],
                          columns=["f", "entity_type", "entity_id"]).drop_duplicates()
    if len(listed):
        key = ["f", "entity_type", "entity_id"]
        seen = pd.MultiIndex.from_frame(att[key].astype({"entity_id": "string"})) if len(att) else pd.MultiIndex.from_tuples([], names=key)
        extra = listed[~pd.MultiIndex.from_frame(listed[key].astype({"entity_id": "string"})).isin(seen)].merge(meta, on="f")
        extra = extra.assign(w=extra["score"], amount=0.0, claims=0.0)
        att = pd.concat([att, extra], ignore_index=True)
    att["entity_id"] = att["entity_id"].astype(str)
    # a provider the finding names as a witness of the pattern (a phantom stay's patient seen
    # elsewhere meanwhile), not a party to it
    wit = [(i, e.type, str(e.id)) for i, f in enumerate(findings) for e in f.entities
           if e.role in WITNESS_ROLES and e.type in PROVIDER_TYPES]
    att["witness"] = pd.MultiIndex.from_arrays([att["f"].to_numpy(), att["entity_type"].astype(str).to_numpy(),
                                                att["entity_id"].to_numpy()]).isin(pd.MultiIndex.from_tuples(wit)) \
        if wit and len(att) else False
    att = att[cols + ["witness"]].reset_index(drop=True)
    if people_out is not None:
        ppl = pd.concat(people, ignore_index=True).drop_duplicates() if people else pd.DataFrame(columns=["entity_type", "entity_id", "patient_id"])
        people_out["people"] = ppl.groupby([ppl["entity_type"], ppl["entity_id"].astype(str)]).size() if len(ppl) else pd.Series(dtype=int)
    return att


#: entity roles of a finding that mark a provider as a witness of the pattern, not a party to it
WITNESS_ROLES = ("elsewhere",)


def findings_part(excess: np.ndarray) -> np.ndarray:
    """Findings part ``ln(1 + excess)`` (see the module docstring)."""
    return np.log1p(np.maximum(np.asarray(excess, float), 0.0))


def eb_rate(k: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Posterior mean relative rate ``(a + k)/(a + λ)`` (Poisson–gamma empirical Bayes, gamma
    prior of mean 1 and shape ``a`` from the spread of ``k/λ`` beyond Poisson noise).

    >>> import numpy as np
    >>> r = eb_rate(np.array([0.0, 1.0, 50.0, 0.0, 0.0, 0.0]), np.array([1.0, 0.05, 0.2, 2.0, 1.0, 1.0]))
    >>> bool(r[1] < 1.0 / 0.05), bool(r[2] > r[1] > 1.0 > r[0])
    (True, True)
    """
    k, lam = np.asarray(k, float), np.asarray(lam, float)
    ok = lam > 0
    if ok.sum() < 2:
        return np.zeros_like(k)
    theta = k[ok] / lam[ok]
    var = float(np.var(theta)) - float(np.mean(theta / lam[ok]))
    if var <= 1e-12:
        return np.where(ok, 1.0, 0.0)  # no spread beyond noise: everyone at the city rate
    a = 1.0 / var
    out = np.zeros_like(k)
    out[ok] = (a + k[ok]) / (a + lam[ok])
    return out


def findings_evidence(att: pd.DataFrame, volume: pd.DataFrame, people: pd.Series | None = None) -> pd.DataFrame:
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
    city_claims = max(float(prov["claims"].sum()), 1.0)
    a = att.assign(k=att["score"] * np.maximum(att["claims"].to_numpy(float), 1.0))
    pk = a.groupby(key + ["kind"], sort=False)["k"].sum().reset_index()
    vol = volume.set_index(key)["claims"]
    pk["lam_claims"] = np.maximum(vol.reindex(pd.MultiIndex.from_frame(pk[key])).fillna(0.0).to_numpy(float), 1.0)
    rho = np.zeros(len(pk))
    for _, idx in pk.groupby("kind", sort=False).groups.items():
        sub = pk.loc[idx]
        is_prov = sub["entity_type"].isin(["institution", "pharmacy"]).to_numpy()
        r = float(sub.loc[is_prov, "k"].sum()) / city_claims if is_prov.any() else float(sub["k"].sum()) / city_claims
        # every provider is in the prior, the untouched ones with k = 0
        for grp in (["institution", "pharmacy"], ["doctor"], ["terminal"]):
            m = sub["entity_type"].isin(grp).to_numpy()
            if not m.any():
                continue
            pool = volume[volume["entity_type"].isin(grp)]
            lam_all = np.maximum(pool["claims"].to_numpy(float), 1.0) * r
            k_all = np.zeros(len(pool))
            # keyed on (type, id): an institution and a pharmacy may share an id ("1")
            pos = pd.MultiIndex.from_arrays([pool["entity_type"].astype(str), pool["entity_id"].astype(str)]).get_indexer(
                pd.MultiIndex.from_arrays([sub.loc[m, "entity_type"].astype(str), sub.loc[m, "entity_id"].astype(str)]))
            lam_sub = sub.loc[m, "lam_claims"].to_numpy(float) * r
            kk = sub.loc[m, "k"].to_numpy(float)
            if grp == ["terminal"] or (pos < 0).any():
                k_all, lam_all = kk, lam_sub
                res = eb_rate(k_all, lam_all)
            else:
                k_all[pos] = kk
                res = eb_rate(k_all, lam_all)[pos]
            rho[np.asarray(idx)[m]] = res
    pk["rho"] = rho
    pk["excess"] = np.maximum(rho - 1.0, 0.0)
    g = att.groupby(key, sort=False)
    kc = att.groupby(key + ["kind"], sort=False).size().rename("n").reset_index()
    kc = kc.sort_values(key + ["n", "kind"], ascending=[True, True, False, True], kind="stable")
    out = pd.DataFrame({
        "finding_count": g.size(),
        "amount_at_risk": g["amount"].sum().round(2),
        "top_kinds": kc.groupby(key, sort=False)["kind"].agg(";".join),
        "kinds": g["kind"].nunique(),
        "flagged_ratio": pk.groupby(key, sort=False)["excess"].sum(),
    }).reset_index()
    if people is not None and len(people):
        out["people_flagged"] = people.reindex(pd.MultiIndex.from_frame(out[key])).fillna(0).to_numpy(int)
    else:
        out["people_flagged"] = 0
    out["findings"] = findings_part(out["flagged_ratio"].to_numpy(float))
    return out[cols]
