"""Scale benchmark: demo cities of 1M, 3M, 10M claims — load, scan, memory, a naive baseline.

    .venv/bin/python bench/scale.py --claims 1000000,3000000,10000000

Cities are generated once and cached (``--cache``, default ``.bench-cache/``). Each step runs
in its own process so its peak RSS is measured cleanly. Prints a table and writes JSON
(``--json``, default ``bench/results/scale.json``) so runs compare.

Steps per size: bundle → store load from Parquet and from CSV (claims/s), scan per detector
and in total, peak RSS, opening the top lead (evidence graph), and a naive baseline: the
straightforward networkx construction of the full patient–provider graph and its co-visit
projection (patients linked when settled at the same provider on the same day), with a
time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CLAIMS_PER_PATIENT = 11.75


def _step(code: str, timeout: float) -> dict:
    """Run python ``code`` in a child; it prints one JSON line. Adds seconds and the child's peak RSS."""
    wrapped = code + "\nimport resource as _r, json as _j; print(_j.dumps({'peak_rss_mb': round(_r.getrusage(_r.RUSAGE_SELF).ru_maxrss / 1024)}))\n"
    t0 = time.perf_counter()
    try:
        out = subprocess.run([PY, "-c", wrapped], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f}s", "seconds": timeout}
    secs = time.perf_counter() - t0
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}", "seconds": secs}
    lines = out.stdout.strip().splitlines()
    res = json.loads(lines[-2])
    res.update(json.loads(lines[-1]))
    res["seconds"] = round(secs, 2)
    return res


def city(cache: Path, claims: int, fmt: str) -> Path:
    patients = max(300, int(claims / CLAIMS_PER_PATIENT))
    path = cache / f"city-{patients}-{fmt.replace('.', '')}"
    if not (path / "truth.json").exists():
        code = f"from graphkit.demo import generate_city; import json; print(json.dumps({{'rows': generate_city({str(path)!r}, patients={patients}, fmt={fmt!r})['rows']}}))"
        r = _step(code, 3600)
        if "error" in r:
            raise SystemExit(f"generation failed: {r['error']}")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", default="1000000,3000000,10000000")
    ap.add_argument("--cache", default=str(ROOT / ".bench-cache"))
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "scale.json"))
    ap.add_argument("--skip-csv", action="store_true", help="skip the CSV load (it needs a CSV copy of each city)")
    ap.add_argument("--baseline-timeout", type=float, default=600)
    a = ap.parse_args()
    cache = Path(a.cache)
    rows = []
    for n in [int(x) for x in a.claims.split(",")]:
        r: dict = {"target_claims": n}
        pq_city = city(cache, n, "parquet")
        store = cache / f"store-{pq_city.name}"
        load = f"""
import json, shutil; from loaders import load_bundle
shutil.rmtree({str(store)!r}, ignore_errors=True)
res = load_bundle({str(pq_city)!r}, {str(store)!r})
print(json.dumps({{'claims': res.rows['claims'], 'load_seconds': res.seconds}}))"""
        r["load_parquet"] = _step(load, 7200)
        if not a.skip_csv:
            csv_city = city(cache, n, "csv")
            store_csv = cache / f"store-{csv_city.name}"
            r["load_csv"] = _step(load.replace(str(pq_city), str(csv_city)).replace(str(store), str(store_csv)), 7200)
        scan = f"""
import json, time, graphkit
st = graphkit.open_store({str(store)!r}); t = time.perf_counter(); res = graphkit.scan(st)
print(json.dumps({{'total': time.perf_counter() - t, 'per_detector': res.seconds, 'findings': len(res.findings)}}))"""
        r["scan"] = _step(scan, 7200)
        lead = f"""
import json, time, graphkit
st = graphkit.open_store({str(store)!r})
from graphkit.scan import scan
f = scan(st, kinds=['shared_card']).findings[0]
t = time.perf_counter(); g = f.subgraph(st); dt = time.perf_counter() - t
print(json.dumps({{'open_lead_seconds': dt, 'nodes': g.number_of_nodes()}}))"""
        r["open_lead"] = _step(lead, 600)
        naive = f"""
import json, time, networkx as nx, pandas as pd, graphkit
st = graphkit.open_store({str(store)!r})
c = st.table('claims', ['patient_id', 'institution_id', 'pharmacy_id', 'start_time'])
t = time.perf_counter()
g = nx.Graph()
prov = c['institution_id'].fillna(c['pharmacy_id'])
g.add_edges_from(zip('p:' + c['patient_id'], 'v:' + prov))
day = c['start_time'].dt.floor('D').astype(str)
co = nx.Graph()
for _, grp in c.assign(k=prov + '|' + day).groupby('k')['patient_id']:
    ps = list(set(grp))
    for i in range(len(ps)):
        for j in range(i + 1, len(ps)):
            co.add_edge(ps[i], ps[j])
comps = nx.number_connected_components(co)
print(json.dumps({{'naive_seconds': time.perf_counter() - t, 'bipartite_edges': g.number_of_edges(), 'co_visit_edges': co.number_of_edges(), 'components': comps}}))"""
        r["naive_baseline"] = _step(naive, a.baseline_timeout)
        rows.append(r)
        print(json.dumps(r), flush=True)
    meta = {"machine": f"{platform.machine()} {os.cpu_count()} cores, {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB",
            "python": platform.python_version(), "when": time.strftime("%Y-%m-%d %H:%M")}
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps({"meta": meta, "results": rows}, indent=1))
    print()
    print(f"machine: {meta['machine']}")
    print("| claims | load parquet (s, claims/s, MB) | load csv (s, claims/s, MB) | scan total (s, MB) | open lead (s) | naive baseline (s) |")
    print("|---:|---|---|---|---:|---|")
    for r in rows:
        def ld(x):
            if not x or "error" in x:
                return (x or {}).get("error", "-")
            return f"{x['load_seconds']:.1f} s, {x['claims'] / x['load_seconds']:,.0f}/s, {x['peak_rss_mb']} MB"
        sc = r["scan"]
        sct = sc.get("error") or f"{sc['total']:.1f} s, {sc['peak_rss_mb']} MB"
        nb = r["naive_baseline"]
        nbt = nb.get("error") or f"{nb['naive_seconds']:.1f} s ({nb['co_visit_edges']:,} co-visit edges)"
        ol = r["open_lead"]
        olt = ol.get("error") or f"{ol['open_lead_seconds']:.2f}"
        claims = r["load_parquet"].get("claims", r["target_claims"])
        print(f"| {claims:,} | {ld(r['load_parquet'])} | {ld(r.get('load_csv'))} | {sct} | {olt} | {nbt} |")
        if "per_detector" in sc:
            print("|  | per detector: " + ", ".join(f"{k} {v:.1f}s" for k, v in sc["per_detector"].items()) + " | | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
