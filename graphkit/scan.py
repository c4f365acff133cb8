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
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np
import pandas as pd

from .detectors import REGISTRY, default_kinds, run_detector
from .detectors.referrals import CLUSTER_KINDS, referral_clusters
from .errors import ParameterError
from .findings import PROVIDER_TYPES, Finding, FindingsReport, sort_findings, write_findings
from .params import check_params
from .profile import data_profile, unmet, unmet_reason
from .projections import provider_key
from .scan_pool import FEATURES, IN_PARENT, peak_rss_mb, run_in_workers, scan_workers

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["ScanResult", "scan", "provider_scores", "blind_share", "write_scan", "SCORES_COLUMNS"]

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
    #: kind -> the detector's own summary, when it gives one (rule_violation: per-rule hits and amounts)
    summaries: dict[str, Any] = field(default_factory=dict)
    #: how the scan ran: ``workers`` (processes; 1 = in this one) and each step's peak RSS in MB
    #: (``scan``: this process's, at the end)
    processes: dict[str, Any] = field(default_factory=dict)

    def by_kind(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {}
        for f in self.findings:
            out.setdefault(f.kind, []).append(f)
        return out

    def report(self) -> FindingsReport:
        """The findings, parameters and run facts as a :class:`FindingsReport` (``findings.json``)."""
        return FindingsReport(
            findings=self.findings,
            data_fingerprint=self.data_fingerprint,
            parameters=self.parameters,
            extra={"timings_seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                   "referral_clusters": self.referral_clusters,
                   "skipped": self.skipped, "degraded": self.degraded, "data_profile": self.data_profile,
                   "scan_processes": self.processes,
                   **({"rule_summary": self.summaries["rule_violation"]} if "rule_violation" in self.summaries else {})},
        )

    def to_json(self, *, indent: int | None = None) -> str:
        """The result as the JSON text of ``findings.json`` (what :func:`write_scan` writes there, with
        ``indent=1``): findings sorted by score, parameters, timings, skipped and degraded kinds.
        Chinese is unescaped (encode as UTF-8); ``generated_at`` is the time of the call. The provider
        scores are a table, not part of it: ``result.scores`` (``scores.csv``).

        >>> import json
        >>> f = Finding.create("card_burst", key=("T1",), score=0.5, summary="集中刷卡")
        >>> r = ScanResult([f], {"card_burst": {"min_cards": 5}}, pd.DataFrame(), "sha256:0")
        >>> d = json.loads(r.to_json())
        >>> d["schema"], d["findings"] == [f.to_dict()], d["parameters"]
        ('graphkit.findings/v1', True, {'card_burst': {'min_cards': 5}})
        >>> FindingsReport.from_json(r.to_json()).findings == r.findings
        True
        """
        report = self.report()
        report.findings = sort_findings(report.findings)
        return report.to_json(indent=indent)


def scan(
    store: Store,
    *,
    kinds: Iterable[str] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    memory_gb: float | None = None,
) -> ScanResult:
    """Run the default battery of detectors (or ``kinds``) on ``store``.

    Opt-in kinds (``indicator_outlier``) run only when named in ``kinds``.

    ``workers``: processes that run the detectors side by side (:mod:`graphkit.scan_pool`; the
    results are the same). Default: one below 1M claims or on Neo4j, else one per core (at most
    4, one per 6 GB of memory); ``$GRAPHKIT_SCAN_WORKERS`` sets it too. Each process adds its
    working set to the memory in use: ``workers=1`` uses the least. ``memory_gb``: the budget the
    workers' estimated peaks keep within (default ``$GRAPHKIT_SCAN_MEMORY_GB``, else 8 GB or half
    the machine's memory if less; a step too large for it runs alone).

    ``params`` maps a kind to parameter overrides; unknown kinds or parameters raise
    :class:`~graphkit.errors.ParameterError`.
    """
    kinds = list(kinds) if kinds is not None else default_kinds()
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
    summaries: dict[str, Any] = {}
    runnable: list[str] = []
    for kind in kinds:
        det = REGISTRY[kind]
        check_params(kind, det.params, params.get(kind) or {})  # a bad parameter fails before any work
        missing = unmet(profile, det.needs)
        if missing:  # the data cannot support it: say so rather than return nothing
            skipped[kind] = "；".join(unmet_reason(profile, n)[0] for n in missing) + " / " + \
                "; ".join(unmet_reason(profile, n)[1] for n in missing)
            continue
        why = det.fits(store) if det.fits else None
        if why:  # the machine cannot hold it: skip it and say so rather than fail the whole scan
            skipped[kind] = why
            continue
        lacking = [(need, how) for need, how in det.prefers if unmet(profile, [need])]
        if lacking:
            degraded[kind] = ["{0} / {1}: {2}".format(*unmet_reason(profile, need), how) for need, how in lacking]
        runnable.append(kind)
    n_workers = scan_workers(store, workers)
    from .risk.scores import DEFAULTS as RISK_DEFAULTS
    from .risk.shared import shared_outlier_leads

    min_peers = int(RISK_DEFAULTS["min_peers"])
    # indicator_outlier with the risk model's parameters: its findings are the risk model's shared
    # leads (computed once, with the features in a parallel scan), not run a second time
    as_shared = {k: full for k in runnable if (full := _as_shared_leads(k, params.get(k), min_peers)) is not None}
    pooled = [k for k in runnable if k not in IN_PARENT] if n_workers > 1 else []
    done: dict[str, Any] = {}
    peaks: dict[str, float] = {}
    schedule: dict[str, Any] = {}
    cpus: dict[str, float] = {}
    in_parent: list[str] = []
    if pooled:  # detectors and the risk model's data-only half in worker processes (graphkit.scan_pool)
        from .risk.shared import install

        done, schedule = run_in_workers(store, pooled, params, n_workers, min_peers=min_peers,
                                        memory_gb=memory_gb, progress=progress)
        feat = done.pop(FEATURES)
        install(store, feat.payload)
        seconds[FEATURES], peaks[FEATURES], cpus[FEATURES] = feat.seconds, feat.peak_rss_mb, feat.cpu_seconds
        del feat
    for kind in runnable:
        if kind in done:
            r = done.pop(kind)
            found, used[kind], seconds[kind], summary, peaks[kind] = r.findings, r.used, r.seconds, r.summary, r.peak_rss_mb
            cpus[kind] = r.cpu_seconds
        else:
            if progress:
                progress(kind)
            t0 = time.perf_counter()
            if kind in as_shared:
                found, used[kind] = list(shared_outlier_leads(store, min_peers)), as_shared[kind]
            else:
                found, used[kind] = run_detector(kind, store, params.get(kind))
            seconds[kind] = time.perf_counter() - t0
            if pooled:  # run here, after the workers: the scanning process's peak so far
                peaks[kind] = peak_rss_mb()
                in_parent.append(kind)
            summary = getattr(found, "summary", None)
        if summary is not None:
            summaries[kind] = summary
        findings.extend(found)
    clusters: list[dict[str, Any]] = []
    if any(f.kind in CLUSTER_KINDS for f in findings):
        t0 = time.perf_counter()
        clusters = referral_clusters(store, findings)  # marks evidence["referral_cluster"] on members
        seconds["referral_clusters"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    findings = sort_findings(findings)
    scores = provider_scores(store, findings, prior_weight=blind_share(used, degraded))
    seconds["provider_scores"] = time.perf_counter() - t0
    peaks["scan"] = peak_rss_mb()
    return ScanResult(findings, used, scores, store.fingerprint, seconds, clusters,
                      skipped=skipped, degraded=degraded, data_profile=profile, summaries=summaries,
                      processes={"workers": n_workers if pooled else 1, "peak_rss_mb": peaks,
                                 **({"in_parent": in_parent} if in_parent else {}),
                                 **({"cpu_seconds": cpus} if cpus else {}), **schedule})


def _as_shared_leads(kind: str, params: dict[str, Any] | None, min_peers: int) -> dict[str, Any] | None:
    """The parameters ``indicator_outlier`` runs with when they are the ones the risk model's shared
    leads (:func:`graphkit.risk.shared.shared_outlier_leads`) use — its defaults with the risk
    model's ``min_peers`` — else ``None`` (any other kind, or other parameters: it runs itself)."""
    if kind != "indicator_outlier":
        return None
    decl = REGISTRY[kind].params
    full = check_params(kind, decl, params or {})
    return full if full == check_params(kind, decl, {"min_peers": min_peers}) else None


def store_profile(store: Store) -> dict[str, Any]:
    """The store's data profile (:meth:`graphkit.store.Store.profile`; computed for any other
    object that offers the store's read interface)."""
    fn = getattr(store, "profile", None)
    if callable(fn):
        return fn()
    return data_profile(store)


def blind_share(ran: Iterable[str], degraded: dict[str, list[str]]) -> float:
    """The share of the detector battery that did not look at this data: registered kinds not run
    (skipped for lack of data, or not asked for) count 1, degraded ones ½; never below one kind's
    share. The provider risk model weighs its prior (volume, indicators, network) by it: the
    less the detectors could see, the more the prior stands in for them.

    The battery is the default kinds (:func:`~graphkit.detectors.default_kinds`) that look at the
    graph; an opt-in kind that ran does not change it, nor does the item-level rule pack
    (``rule_violation`` runs wherever there are claim items; items or none, the graph patterns saw
    the same).

    >>> n = len(default_kinds()) - 1  # the rule pack is not part of the battery
    >>> blind_share(default_kinds(), {}) == round(1 / n, 6)  # every kind ran: one kind's share
    True
    >>> blind_share(["shared_card", "deceased_card_use"], {"shared_card": ["..."]}) == round((n - 2 + 0.5) / n, 6)
    True
    """
    from .risk.scores import FINDINGS_EXCLUDED_KINDS

    ran = set(ran)
    battery = [k for k in default_kinds() if k not in FINDINGS_EXCLUDED_KINDS and k != "rule_violation"]
    k = max(len(battery), 1)
    blind = sum(1.0 for kind in battery if kind not in ran) + 0.5 * sum(1 for kind in degraded if kind in ran and kind in battery)
    return round(max(blind, 1.0) / k, 6)


def provider_scores(store: Store, findings: list[Finding], *, prior_weight: float | None = None) -> pd.DataFrame:
    """One row per institution, pharmacy and doctor (plus terminals a finding touches), ranked
    by the provider risk model :func:`graphkit.risk.provider_risk` (exposure plus bounded
    indicator, findings and network evidence; see docs/risk-model.md). The first columns are
    :data:`SCORES_COLUMNS`; the parts the score is made of follow."""
    from .risk import provider_risk

    return provider_risk(store, findings, **({} if prior_weight is None else {"prior_weight": prior_weight})).scores


def write_scan(result: ScanResult, out_dir: str | Path, *, check_out: bool = True) -> dict[str, Path]:
    """Write ``findings.json`` and ``scores.csv`` into ``out_dir`` (created).

    ``check_out``: refuse a non-empty folder that is not an earlier scan output
    (:func:`graphkit.outputs.claim_output_dir`); callers that made the folder themselves
    (the demo) pass False. Text cells of scores.csv are CSV-injection safe (read them back
    with :func:`graphkit.outputs.csv_unsafe`)."""
    from .outputs import claim_output_dir, write_csv

    out = claim_output_dir(out_dir, "scan") if check_out else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"findings": out / "findings.json", "scores": out / "scores.csv"}
    write_findings(paths["findings"], result.report())
    write_csv(result.scores, paths["scores"])
    return paths
