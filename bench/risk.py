"""Cost of the provider risk model: time and peak memory on a loaded store.

    .venv/bin/python bench/risk.py --store out/s1m --findings out/f1m/findings.json
    .venv/bin/python bench/risk.py --store out/s1m --findings out/f1m/findings.json --json bench/results/risk-1m.json
    .venv/bin/python bench/risk.py --store out/s1m --findings out/f1m/findings.json --scores out/before.parquet

Runs :func:`graphkit.risk.provider_risk` once after reading the findings, and prints the
claims, the seconds per stage (activity, indicators, peers, findings, network, total) and the
CPU seconds (in all and per stage) (less sensitive than wall time to a machine shared with other jobs: the load
average is printed too), and the process's peak RSS above what it held before the model ran (``ru_maxrss``: the model's own
peak, since the process did nothing heavier before). Extrapolate linearly in claims: every
stage is a pass of bincounts, sorts or sparse products over the claims.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--findings", help="findings.json of a scan of the store (default: none)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--scores", help="write the scores frame here (Parquet), to compare runs exactly")
    a = ap.parse_args()

    from graphkit.findings import read_findings
    from graphkit.risk import activity, evidence, indicators, network, peers, scores, shared
    from graphkit.store import open_store

    store = open_store(a.store)
    findings = read_findings(a.findings).findings if a.findings else []
    base = _rss_mb()
    stages: dict[str, float] = {}
    cpu_stages: dict[str, float] = {}
    peak_rise: dict[str, float] = {}

    def timed(name, fn):
        def wrap(*args, **kw):
            t0, c0, r0 = time.perf_counter(), time.process_time(), _rss_mb()
            try:
                return fn(*args, **kw)
            finally:
                stages[name] = stages.get(name, 0.0) + time.perf_counter() - t0
                cpu_stages[name] = cpu_stages.get(name, 0.0) + time.process_time() - c0
                peak_rise[name] = max(peak_rise.get(name, 0.0), _rss_mb() - r0)  # how far this stage raised the peak
        return wrap

    # the model reaches these stages through graphkit.risk.shared (shared with the scan's detectors)
    shared.claims_activity = timed("activity", activity.claims_activity)
    shared.provider_indicators = timed("indicators", indicators.provider_indicators)
    shared.indicator_excess = timed("peers", peers.indicator_excess)
    scores.attributions = timed("findings", evidence.attributions)
    scores._terminal_volume = timed("findings", scores._terminal_volume)
    scores.provider_graph = timed("network", network.provider_graph)
    scores.network_evidence = timed("network", network.network_evidence)
    t0, c0 = time.perf_counter(), time.process_time()
    res = scores.provider_risk(store, findings)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _rss_mb()
    out = {
        "claims": res.activity.n_claims, "entities": res.activity.n_entities, "findings": len(findings),
        "seconds": {k: round(v, 2) for k, v in stages.items()} | {"other": round(total - sum(stages.values()), 2), "total": round(total, 2)},
        "peak_rise_mb": {k: round(v) for k, v in peak_rise.items()},
        "cpu_seconds_by_stage": {k: round(v, 2) for k, v in cpu_stages.items()} | {"other": round(cpu - sum(cpu_stages.values()), 2)},
        "cpu_seconds": round(cpu, 2), "load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
        "peak_rss_mb": round(peak), "rss_before_mb": round(base), "added_peak_mb": round(peak - base),
        "per_million_claims": {"seconds": round(total / max(res.activity.n_claims, 1) * 1e6, 2),
                               "cpu_seconds": round(cpu / max(res.activity.n_claims, 1) * 1e6, 2),
                               "added_peak_mb": round((peak - base) / max(res.activity.n_claims, 1) * 1e6)},
    }
    print(json.dumps(out, indent=1))
    if a.scores:
        Path(a.scores).parent.mkdir(parents=True, exist_ok=True)
        res.scores.to_parquet(a.scores)
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
