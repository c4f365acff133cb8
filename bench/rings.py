"""Benchmark the ``collusion_ring`` detector against a naive baseline on a demo city.

The baseline is what a first attempt looks like: patients are linked when they share at least
``min_co_visits`` provider-days (no crowded-day handling, no expectation, no lift), and every
connected component with ``min_members`` or more people is a ring, ranked by its number of
shared provider-days.

Each method runs in a fresh child process so that its seconds and peak RSS are its own.

Usage::

    python bench/rings.py --patients 20000 --seed 1
    python bench/rings.py --patients 50000 --seed 2 --cache /tmp/graphkit-bench --out bench/rings-50k.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _peak_rss_mb() -> float:
    """Peak resident set size of this process (VmHWM), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ------------------------------------------------------------------------------------------
# the naive baseline
# ------------------------------------------------------------------------------------------
def naive_components(store: Any, *, min_co_visits: int = 3, min_members: int = 3,
                     chunk_flops: int = 20_000_000) -> list:
    """Connected components of the raw co-visit graph (shared provider-days ≥ min_co_visits)."""
    import pandas as pd
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    from graphkit.detectors._common import squash
    from graphkit.detectors.rings import chunk_bounds
    from graphkit.findings import Entity, Finding

    cl = store.table("claims", ["claim_id", "patient_id", "institution_id", "pharmacy_id", "start_time", "fund_amount"])
    pcode, pids = pd.factorize(cl["patient_id"], sort=True)
    icode, inames = pd.factorize(cl["institution_id"], sort=True)
    phcode, _ = pd.factorize(cl["pharmacy_id"], sort=True)
    prov = np.where(icode >= 0, icode, len(inames) + phcode).astype(np.int64)
    day = cl["start_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
    day -= day.min()
    basket = prov * (int(day.max()) + 1) + day
    bkeys, bcol = np.unique(basket, return_inverse=True)
    B = sparse.csr_matrix((np.ones(len(pcode), np.int32), (pcode, bcol)), shape=(len(pids), len(bkeys)))
    B.data[:] = 1
    B.sum_duplicates()
    B.data[:] = 1
    BT = B.T.tocsr()
    colsize = np.diff(BT.indptr)
    flops = np.asarray(B.multiply(colsize[None, :]).sum(axis=1)).ravel()
    bounds = chunk_bounds(flops, chunk_flops)
    A, Bb = [], []
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        K = (B[r0:r1] @ BT).tocoo()
        rows = K.row.astype(np.int64) + r0
        m = (K.col > rows) & (K.data >= min_co_visits)
        A.append(rows[m])
        Bb.append(K.col[m].astype(np.int64))
    a, b = np.concatenate(A), np.concatenate(Bb)
    n = len(pids)
    ncomp, lab = connected_components(sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    sizes = np.bincount(lab, minlength=ncomp)
    big = np.flatnonzero(sizes >= min_members)
    # claims of each component on provider-days where >= 2 of its members met
    comp_of_claim = lab[pcode]
    keep = np.isin(comp_of_claim, big)
    df = pd.DataFrame({"c": comp_of_claim[keep], "basket": basket[keep], "p": pcode[keep],
                       "claim": cl["claim_id"].to_numpy(object)[keep], "fund": cl["fund_amount"].to_numpy(float)[keep]})
    met = df.groupby(["c", "basket"])["p"].transform("nunique") >= 2
    df = df[met.to_numpy()]
    findings = []
    for c, rows in df.groupby("c", sort=True):
        members = sorted(np.asarray(pids)[np.unique(rows["p"].to_numpy())].tolist())
        days = rows["basket"].nunique()
        findings.append(Finding.create(
            "collusion_ring", key=("baseline", members[0], len(members)), score=squash(0.05 * days),
            amount_at_risk=float(rows["fund"].sum()), entities=[Entity("patient", x, "member") for x in members],
            claims=rows["claim"], summary=f"{len(members)}人共同就诊{days}天 / {len(members)} people share {days} provider-days",
            evidence={"members": members, "shared_days": int(days)},
        ))
    return findings


# ------------------------------------------------------------------------------------------
# running one method in a child
# ------------------------------------------------------------------------------------------
def _child(method: str, store_dir: str, truth: str, params: dict, q: Any) -> None:
    try:
        import graphkit.detectors.rings  # noqa: F401  (registers the detector)
        from graphkit import open_store
        from graphkit.evaluate import evaluate

        store = open_store(store_dir)
        t0 = time.perf_counter()
        if method == "collusion_rings":
            from graphkit.detectors.rings import collusion_rings

            fs = collusion_rings(store, **params)
        else:
            fs = naive_components(store, **params)
        secs = time.perf_counter() - t0
        ev = evaluate(truth, fs)["kinds"].get("collusion_ring", {})
        q.put({
            "method": method, "seconds": round(secs, 2), "peak_rss_mb": round(_peak_rss_mb(), 1),
            "findings": len(fs), "instances": ev.get("instances"), "recall": ev.get("recall"),
            "precision_at_k": ev.get("precision_at_k"), "precision_all": ev.get("precision_all"),
            "missed": ev.get("missed", []),
        })
    except BaseException as exc:  # report, never hang the parent
        q.put({"method": method, "error": f"{type(exc).__name__}: {exc}"})


def run_method(method: str, store_dir: Path, truth: Path, params: dict) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(method, str(store_dir), str(truth), params, q))
    proc.start()
    res = q.get()
    proc.join()
    return res


def prepare(patients: int, seed: int, cache: Path) -> tuple[Path, Path, dict]:
    """Generate (or reuse) the demo city bundle and its loaded store."""
    from graphkit.demo import generate_city
    from loaders import load_bundle

    root = cache / f"city-{patients}-{seed}"
    info: dict = {}
    if not (root / "truth.json").exists():
        t0 = time.perf_counter()
        summary = generate_city(root, patients=patients, seed=seed, fmt="parquet")
        info["generate_seconds"] = round(time.perf_counter() - t0, 1)
        info["claims"] = int(summary.get("rows", {}).get("claims", 0))
    if not (root / "store" / "manifest.json").exists():
        t0 = time.perf_counter()
        load_bundle(root, root / "store")
        info["load_seconds"] = round(time.perf_counter() - t0, 1)
    if "claims" not in info:
        manifest = json.loads((root / "store" / "manifest.json").read_text("utf-8"))
        info["claims"] = int(manifest["tables"]["claims"]["rows"])
    return root / "store", root / "truth.json", info


def _fmt(x: Any, nd: int = 3) -> str:
    if x is None:
        return "-"
    return f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/graphkit-bench"), help="folder for generated cities")
    ap.add_argument("--out", type=Path, default=None, help="JSON file for the figures (default: <cache>/rings-<patients>-<seed>.json)")
    ap.add_argument("--skip-baseline", action="store_true", help="only run the detector")
    ap.add_argument("--min-co-visits", type=int, default=3, help="baseline link threshold (shared provider-days)")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("GRAPHKIT_ALLOW_DEMO_KEY", "1")  # generated demo data only
    store_dir, truth, info = prepare(args.patients, args.seed, args.cache)
    results = [run_method("collusion_rings", store_dir, truth, {})]
    if not args.skip_baseline:
        results.append(run_method("naive_components", store_dir, truth,
                                  {"min_co_visits": args.min_co_visits, "min_members": 3}))
    print(f"demo city: {args.patients} patients, seed {args.seed}, {info['claims']:,} claims")
    print("| method | findings | recall | precision@k | precision (all) | seconds | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if "error" in r:
            print(f"| {r['method']} | error: {r['error']} |")
            continue
        print(f"| {r['method']} | {r['findings']} | {_fmt(r['recall'])} | {_fmt(r['precision_at_k'])} | "
              f"{_fmt(r['precision_all'])} | {_fmt(r['seconds'], 1)} | {_fmt(r['peak_rss_mb'], 0)} |")
    out = args.out or args.cache / f"rings-{args.patients}-{args.seed}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"patients": args.patients, "seed": args.seed, **info, "results": results},
                              ensure_ascii=False, indent=1), "utf-8")
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
