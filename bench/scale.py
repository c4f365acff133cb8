"""Scale benchmark: demo cities of 1M, 3M, 10M claims — load, scan, memory, a naive baseline.

    .venv/bin/python bench/scale.py --claims 1000000,3000000,10000000
    .venv/bin/python bench/scale.py --claims 1000000 --load-only --repeat 5 --in-memory

Cities are generated once and cached (``--cache``, default ``.bench-cache/``). Each step runs
in its own process so its peak RSS is measured cleanly. Prints a table and writes JSON
(``--json``, default ``bench/results/scale.json``) so runs compare.

Steps per size: bundle → store load from Parquet and from CSV (claims/s; the loader streams
in chunks of ``--chunk-rows`` rows, default the loader's 1,000,000), optionally the same
Parquet load with whole tables in memory (``--in-memory``: ``chunk_rows=0``), scan per
detector and in total, peak RSS, opening the top lead (evidence graph), and a naive
baseline: the straightforward networkx construction of the full patient–provider graph and
its co-visit projection (patients linked when settled at the same provider on the same
day), with a time limit. ``--repeat N`` runs every load N times and reports the best and
the median (the machine may be shared); ``--load-only`` skips scan, lead and baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
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
    ap.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk of the load (default: the loader's)")
    ap.add_argument("--in-memory", action="store_true", help="also load Parquet with whole tables (chunk_rows=0)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per load (best and median are reported)")
    ap.add_argument("--load-only", action="store_true", help="only the loads (no scan, lead, baseline)")
    a = ap.parse_args()
    cache = Path(a.cache)
    rows = []

    def load_step(src: Path, dst: Path, chunk_rows: int | None) -> dict:
        code = f"""
import json, shutil; from loaders import load_bundle
shutil.rmtree({str(dst)!r}, ignore_errors=True)
res = load_bundle({str(src)!r}, {str(dst)!r}, chunk_rows={chunk_rows!r})
print(json.dumps({{'claims': res.rows['claims'], 'load_seconds': res.seconds, 'fingerprint': res.store_fingerprint}}))"""
        runs = [_step(code, 7200) for _ in range(max(1, a.repeat))]
        ok = [x for x in runs if "error" not in x]
        if not ok:
            return runs[0]
        secs = sorted(x["load_seconds"] for x in ok)
        best = min(ok, key=lambda x: x["load_seconds"])
        return {**best, "chunk_rows": chunk_rows, "runs": len(ok), "best_seconds": secs[0],
                "median_seconds": statistics.median(secs),
                "max_peak_rss_mb": max(x["peak_rss_mb"] for x in ok), "all_seconds": [round(x, 2) for x in secs]}

    for n in [int(x) for x in a.claims.split(",")]:
        r: dict = {"target_claims": n}
        pq_city = city(cache, n, "parquet")
        store = cache / f"store-{pq_city.name}"
        r["load_parquet"] = load_step(pq_city, store, a.chunk_rows)
        if a.in_memory:
            r["load_parquet_in_memory"] = load_step(pq_city, cache / f"store-{pq_city.name}-whole", 0)
        if not a.skip_csv:
            csv_city = city(cache, n, "csv")
            r["load_csv"] = load_step(csv_city, cache / f"store-{csv_city.name}", a.chunk_rows)
        if a.load_only:
            rows.append(r)
            print(json.dumps(r), flush=True)
            continue
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
    print("| claims | load parquet, chunked (s, claims/s, MB) | load parquet, whole tables | load csv, chunked | scan total (s, MB) | open lead (s) | naive baseline (s) |")
    print("|---:|---|---|---|---|---:|---|")
    for r in rows:
        def ld(x):
            if not x or "error" in x:
                return (x or {}).get("error", "-")
            text = f"{x['best_seconds']:.1f} s, {x['claims'] / x['best_seconds']:,.0f}/s, {x['max_peak_rss_mb']} MB"
            if x.get("runs", 1) > 1:
                text += f" (best of {x['runs']}; median {x['median_seconds']:.1f} s, {x['claims'] / x['median_seconds']:,.0f}/s)"
            return text
        claims = r["load_parquet"].get("claims", r["target_claims"])
        if "scan" not in r:
            print(f"| {claims:,} | {ld(r['load_parquet'])} | {ld(r.get('load_parquet_in_memory'))} | {ld(r.get('load_csv'))} | - | - | - |")
            continue
        sc = r["scan"]
        sct = sc.get("error") or f"{sc['total']:.1f} s, {sc['peak_rss_mb']} MB"
        nb = r["naive_baseline"]
        nbt = nb.get("error") or f"{nb['naive_seconds']:.1f} s ({nb['co_visit_edges']:,} co-visit edges)"
        ol = r["open_lead"]
        olt = ol.get("error") or f"{ol['open_lead_seconds']:.2f}"
        print(f"| {claims:,} | {ld(r['load_parquet'])} | {ld(r.get('load_parquet_in_memory'))} | {ld(r.get('load_csv'))} | {sct} | {olt} | {nbt} |")
        if "per_detector" in sc:
            print("|  | per detector: " + ", ".join(f"{k} {v:.1f}s" for k, v in sc["per_detector"].items()) + " | | | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
