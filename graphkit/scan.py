"""Run detectors over a store, rank providers, and write ``findings.json`` + ``scores.csv``.

Examples
--------
>>> from graphkit import scan, open_store     # doctest: +SKIP
>>> result = scan(open_store("store"))        # doctest: +SKIP
>>> result.findings[0].kind                   # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from .detectors import REGISTRY, run_detector
from .detectors.referrals import CLUSTER_KINDS, referral_clusters
from .errors import ParameterError
from .findings import PROVIDER_TYPES, Finding, FindingsReport, sort_findings, write_findings
from .params import check_params
from .profile import data_profile, unmet, unmet_reason
from .projections import provider_key

__all__ = ["ScanResult", "scan", "provider_scores", "write_scan", "SCORES_COLUMNS"]

SCORES_COLUMNS = ["entity_type", "entity_id", "score", "finding_count", "amount_at_risk", "top_kinds"]


@dataclass
class ScanResult:
    """Findings (sorted by score), the parameters used, provider scores and timings."""

    findings: list[Finding]
    parameters: dict[str, dict[str, Any]]
    scores: pd.DataFrame
    data_fingerprint: str
    seconds: dict[str, float] = field(default_factory=dict)
    referral_clusters: list[dict[str, Any]] = field(default_factory=list)
    #: kind -> why it did not run ("中文 / English"): the data lacks what it needs
    skipped: dict[str, str] = field(default_factory=dict)
    #: kind -> what it did without ("中文 / English" each): it ran degraded
    degraded: dict[str, list[str]] = field(default_factory=dict)
    #: what the data supports (graphkit.profile.data_profile)
    data_profile: dict[str, Any] = field(default_factory=dict)

    def by_kind(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {}
        for f in self.findings:
            out.setdefault(f.kind, []).append(f)
        return out

    def report(self) -> FindingsReport:
        return FindingsReport(
            findings=self.findings,
            data_fingerprint=self.data_fingerprint,
            parameters=self.parameters,
            extra={"timings_seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                   "referral_clusters": self.referral_clusters,
                   "skipped": self.skipped, "degraded": self.degraded, "data_profile": self.data_profile},
        )


def scan(
    store: Any,
    *,
    kinds: Iterable[str] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ScanResult:
    """Run the registered detectors (all, or ``kinds``) on ``store``.

    ``params`` maps a kind to parameter overrides; unknown kinds or parameters raise
    :class:`~graphkit.errors.ParameterError`.
    """
    kinds = list(kinds) if kinds is not None else list(REGISTRY)
    unknown = [k for k in kinds if k not in REGISTRY]
    if unknown:
        raise ParameterError(f"unknown detector kind(s) {unknown}; available: {sorted(REGISTRY)}")
    params = params or {}
    bad = [k for k in params if k not in REGISTRY]
    if bad:
        raise ParameterError(f"parameters given for unknown kind(s) {bad}; available: {sorted(REGISTRY)}")
    findings: list[Finding] = []
    used: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    profile = store_profile(store)
    seconds["data_profile"] = time.perf_counter() - t0
    skipped: dict[str, str] = {}
    degraded: dict[str, list[str]] = {}
    for kind in kinds:
        if progress:
            progress(kind)
        det = REGISTRY[kind]
        missing = unmet(profile, det.needs)
        if missing:  # the data cannot support it: say so rather than return nothing
            check_params(kind, det.params, params.get(kind) or {})
            skipped[kind] = "；".join(unmet_reason(profile, n)[0] for n in missing) + " / " + \
                "; ".join(unmet_reason(profile, n)[1] for n in missing)
            continue
        lacking = [(need, how) for need, how in det.prefers if unmet(profile, [need])]
        if lacking:
            degraded[kind] = ["{0} / {1}: {2}".format(*unmet_reason(profile, need), how) for need, how in lacking]
        t0 = time.perf_counter()
        found, used[kind] = run_detector(kind, store, params.get(kind))
        seconds[kind] = time.perf_counter() - t0
        findings.extend(found)
    clusters: list[dict[str, Any]] = []
    if any(f.kind in CLUSTER_KINDS for f in findings):
        t0 = time.perf_counter()
        clusters = referral_clusters(store, findings)  # marks evidence["referral_cluster"] on members
        seconds["referral_clusters"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    findings = sort_findings(findings)
    scores = provider_scores(store, findings)
    seconds["provider_scores"] = time.perf_counter() - t0
    return ScanResult(findings, used, scores, store.fingerprint, seconds, clusters,
                      skipped=skipped, degraded=degraded, data_profile=profile)


def store_profile(store: Any) -> dict[str, Any]:
    """The store's data profile (:meth:`graphkit.store.Store.profile`; computed for any other
    object that offers the store's read interface)."""
    fn = getattr(store, "profile", None)
    if callable(fn):
        return fn()
    return data_profile(store)


def _attributions(store: Any, findings: list[Finding]) -> pd.DataFrame:
    """(entity_type, entity_id, kind, w, amount) per finding and provider-side entity, vectorised:
    w = finding score × share of its claims settled there; entities a finding names without
    any of its claims there get the full score and no amount."""
    cols = ["entity_type", "entity_id", "kind", "w", "amount"]
    if not findings:
        return pd.DataFrame(columns=cols)
    meta = pd.DataFrame({
        "f": np.arange(len(findings)), "kind": [f.kind for f in findings],
        "score": [f.score for f in findings], "n": [max(len(f.claims), 1) for f in findings],
    })
    pairs = pd.DataFrame([(i, c) for i, f in enumerate(findings) for c in f.claims], columns=["f", "claim_id"])
    parts = []
    if len(pairs):
        claims = store.claims_by_id(pairs["claim_id"].unique(), ["institution_id", "pharmacy_id", "doctor_id", "terminal_id", "fund_amount"])
        ptype, pid = provider_key(claims)
        claims = claims.assign(provider_type=ptype, provider_id=pid)
        long = pairs.merge(claims, on="claim_id", how="inner")
        for tcol, icol in (("provider_type", "provider_id"), ("doctor", "doctor_id"), ("terminal", "terminal_id")):
            sub = long[["f", icol, "fund_amount"]].rename(columns={icol: "entity_id"})
            sub["entity_type"] = long[tcol].to_numpy() if tcol == "provider_type" else tcol
            sub = sub[sub["entity_id"].notna()]
            parts.append(sub.groupby(["f", "entity_type", "entity_id"], sort=False)["fund_amount"].agg(["size", "sum"]).reset_index())
    att = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["f", "entity_type", "entity_id", "size", "sum"])
    att = att.merge(meta, on="f")
    att["w"] = att["score"] * att["size"] / att["n"]
    att["amount"] = att["sum"]
    listed = pd.DataFrame([(i, e.type, e.id) for i, f in enumerate(findings) for e in f.entities if e.type in PROVIDER_TYPES],
                          columns=["f", "entity_type", "entity_id"]).drop_duplicates()
    if len(listed):
        key = ["f", "entity_type", "entity_id"]
        seen = pd.MultiIndex.from_frame(att[key].astype({"entity_id": "string"})) if len(att) else pd.MultiIndex.from_tuples([], names=key)
        extra = listed[~pd.MultiIndex.from_frame(listed[key].astype({"entity_id": "string"})).isin(seen)].merge(meta, on="f")
        extra = extra.assign(w=extra["score"], amount=0.0)
        att = pd.concat([att, extra], ignore_index=True)
    return att[cols]


def provider_scores(store: Any, findings: list[Finding]) -> pd.DataFrame:
    """One row per institution and pharmacy (score 0 when untouched) plus every other
    provider-side entity (doctor, terminal) a finding touches.

    A provider's score is the noisy-or of the findings touching it, each weighted by the
    share of the finding's claims settled there: ``1 - prod(1 - score_f * share_f)``.
    ``amount_at_risk`` sums the fund amount of those claims at that provider.
    """
    df = _attributions(store, findings)
    if df.empty:
        agg = pd.DataFrame(columns=SCORES_COLUMNS)
    else:
        df["log1m"] = np.log1p(-df["w"].clip(0, 0.999999))
        g = df.groupby(["entity_type", "entity_id"])
        agg = pd.DataFrame(
            {
                "score": 1 - np.exp(g["log1m"].sum()),
                "finding_count": g.size(),
                "amount_at_risk": g["amount"].sum().round(2),
                "top_kinds": g["kind"].agg(lambda s: ";".join(s.value_counts().sort_index(kind="stable").sort_values(ascending=False, kind="stable").index)),
            }
        ).reset_index()
    base = [
        pd.DataFrame({"entity_type": "institution", "entity_id": store.table("institutions", ["institution_id"])["institution_id"]}),
        pd.DataFrame({"entity_type": "pharmacy", "entity_id": store.table("pharmacies", ["pharmacy_id"])["pharmacy_id"]}),
    ]
    allp = pd.concat(base, ignore_index=True).astype({"entity_id": "string"})
    agg = agg.astype({"entity_id": "string"}) if len(agg) else agg
    out = allp.merge(agg, on=["entity_type", "entity_id"], how="outer") if len(agg) else allp.assign(
        score=0.0, finding_count=0, amount_at_risk=0.0, top_kinds=""
    )
    out["score"] = out["score"].fillna(0.0).astype(float).round(6)
    out["finding_count"] = out["finding_count"].fillna(0).astype(int)
    out["amount_at_risk"] = out["amount_at_risk"].fillna(0.0).astype(float).round(2)
    out["top_kinds"] = out["top_kinds"].fillna("")
    out = out.sort_values(["score", "amount_at_risk", "entity_type", "entity_id"], ascending=[False, False, True, True])
    return out[SCORES_COLUMNS].reset_index(drop=True)


def write_scan(result: ScanResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``findings.json`` and ``scores.csv`` into ``out_dir`` (created)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"findings": out / "findings.json", "scores": out / "scores.csv"}
    write_findings(paths["findings"], result.report())
    result.scores.to_csv(paths["scores"], index=False)
    return paths
