"""A full scan with one process and with worker processes: wall, CPU, peak memory, same results.

    .venv/bin/python bench/scan_workers.py --store out/s10m --out out/scanbench
    .venv/bin/python bench/scan_workers.py --store out/s10m --out out/scanbench --workers 2 --skip-serial

Runs ``graphkit scan --workers W`` for W in 1 and ``--workers`` (default 2) on the same store,
each as a child process, and prints per run: wall seconds, CPU seconds (user + system of the
whole process tree), the peak of the tree's **summed** resident memory (sampled every 0.2 s with
psutil: the workers' memory adds up; ``/usr/bin/time`` reports only the largest single process),
the load average before (the machine may be shared), each step's seconds and peak from
``findings.json`` → ``timings_seconds`` / ``scan_processes``; then whether the findings and
scores of the runs are identical. Writes JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_scan(store: str, out: Path, workers: int) -> dict:
    """One ``graphkit scan`` in a child; wall, CPU of the tree, peak summed RSS, the run's own figures."""
    import psutil

    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "graphkit.cli", "scan", "--store", store, "--out", str(out), "--workers", str(workers)]
    load = os.getloadavg()
    before = os.times()
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_rss(proc))
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    after = os.times()
    err = child.stderr.read() if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"scan --workers {workers} failed (rc {child.returncode}):\n{err[-3000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    rep = json.loads((out / "findings.json").read_text("utf-8"))
    # the workers are the forkserver's children, not waited for by the scan: they report their own CPU
    cpu += sum(rep.get("scan_processes", {}).get("cpu_seconds", {}).values())
    return {"workers": workers, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
            "peak_tree_rss_mb": round(peak / 2**20), "load_average_before": [round(x, 2) for x in load],
            "findings": len(rep["findings"]), "timings_seconds": rep.get("timings_seconds", {}),
            "scan_processes": rep.get("scan_processes", {})}


def same_results(a: Path, b: Path) -> dict:
    """Findings (everything but timings, process figures and the write time) and scores.csv equal?"""
    fa, fb = (json.loads((p / "findings.json").read_text("utf-8")) for p in (a, b))
    for d in (fa, fb):
        for k in ("timings_seconds", "scan_processes", "generated_at"):
            d.pop(k, None)
    return {"findings_equal": fa == fb,
            "scores_equal": (a / "scores.csv").read_bytes() == (b / "scores.csv").read_bytes()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", required=True, help="an embedded store folder")
    ap.add_argument("--out", required=True, help="a scratch folder for the runs' outputs")
    ap.add_argument("--workers", type=int, default=2, help="workers of the parallel run (default 2)")
    ap.add_argument("--skip-serial", action="store_true", help="run only the parallel scan")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    out = Path(a.out)
    runs = []
    for w in ([a.workers] if a.skip_serial else [1, a.workers]):
        r = run_scan(a.store, out / f"w{w}", w)
        runs.append(r)
        steps = ", ".join(f"{k} {v:.0f}s" for k, v in sorted(r["timings_seconds"].items(), key=lambda kv: -kv[1]))
        print(f"workers {w}: wall {r['wall_seconds']:.1f} s, CPU {r['cpu_seconds']:.1f} s, peak (summed) "
              f"{r['peak_tree_rss_mb']:,} MB, {r['findings']} findings, load before {r['load_average_before']}")
        print(f"  steps: {steps}")
        print(f"  step peaks MB: {r['scan_processes'].get('peak_rss_mb')}")
    result = {"store": a.store, "cpus": os.cpu_count(), "runs": runs}
    if len(runs) == 2:
        result["same"] = same_results(out / "w1", out / f"w{a.workers}")
        print(f"same results: {result['same']}")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1), "utf-8")
    return 0 if result.get("same", {"ok": True}) and all(result.get("same", {"ok": True}).values()) else 1


if __name__ == "__main__":
    sys.exit(main())
