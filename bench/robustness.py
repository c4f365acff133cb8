"""Robustness bench: every detector on families of cities we did not tune on; the worst case counts.

For each variant of :data:`graphkit.demo.config.VARIANTS` and each seed: generate the city
(structure, look-alikes and export quirks), ``load`` it into an embedded store, ``scan`` it and
``evaluate`` the findings against its truth — the library calls the CLI makes. Per kind it
reports recall and precision@k for every run, the **worst case** and the median over runs; the
provider ROC-AUC / average precision of ``scores.csv`` next to claim count alone and fund total
alone (same run, same labels); the look-alikes (hard negatives) in each kind's top k; and
generation, load and scan seconds.

A kind the scan skipped for lack of data (e.g. ``impossible_travel`` on dates only, when the
scan reports it skipped) is ``n/a (skipped: reason)`` for that run, listed, and left out of
the worst case.

Usage::

    python bench/robustness.py                      # 16 variants × 2 seeds, 20k patients, 6 months
    python bench/robustness.py --quick              # 3 variants × 1 seed, 8k patients (smoke run)
    python bench/robustness.py --variants default,dates_only --seeds 0,1,2 --patients 50000
    python bench/robustness.py --out bench/results/robustness-baseline.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUICK_VARIANTS = ("default", "dates_only", "institutions_heavy")


def skipped_kinds(report: dict[str, Any], result: Any = None) -> dict[str, str]:
    """Kinds the scan did not run for lack of data, with the reason it gave.

    Reads what the scan wrote, in any of the shapes it may take: ``findings.json`` keys
    ``skipped`` (``{kind: reason}`` or ``[{"kind", "reason"}]``) or ``detectors``
    (``{kind: {"status": "skipped", "reason"}}``), or a ``skipped`` attribute of the result.
    """
    out: dict[str, str] = {}

    def take(obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                if isinstance(v, dict):
                    if str(v.get("status", "skipped")).startswith(("skip", "not_run", "refused")):
                        out[k] = str(v.get("reason") or v.get("why") or v.get("status"))
                else:
                    out[k] = str(v)
        elif isinstance(obj, list):
            for v in obj:
                if isinstance(v, dict) and "kind" in v:
                    out[v["kind"]] = str(v.get("reason") or v.get("why") or "skipped")
                elif isinstance(v, str):
                    out[v] = "skipped"

    take(report.get("skipped"))
    dets = report.get("detectors")
    if isinstance(dets, dict):
        take({k: v for k, v in dets.items() if isinstance(v, dict) and "status" in v})
    prof = report.get("profile") or report.get("data_profile") or {}
    if isinstance(prof, dict):
        take(prof.get("skipped"))
    if result is not None:
        take(getattr(result, "skipped", None))
    return out


def volume_baselines(truth: dict[str, Any], scores: Any, claims: Any) -> dict[str, dict[str, float | None]]:
    """ROC-AUC / AP of claim count alone and fund total alone, on exactly the providers and
    labels ``evaluate`` scores (institutions and pharmacies of ``scores.csv``; positives are
    those a truth instance names, ``NOT_INVOLVED_ROLES`` excepted)."""
    import numpy as np
    import pandas as pd

    from graphkit.evaluate import NOT_INVOLVED_ROLES, _auc, _average_precision

    bad = {(e["type"], e["id"]) for i in truth.get("instances", []) for e in i.get("entities", [])
           if e["type"] in ("institution", "pharmacy", "doctor") and e.get("role") not in NOT_INVOLVED_ROLES}
    prov = scores[scores["entity_type"].isin(["institution", "pharmacy"])]
    y = np.array([(a, b) in bad for a, b in zip(prov["entity_type"], prov["entity_id"])], bool)
    typ = np.where(claims["institution_id"].notna(), "institution", "pharmacy")
    pid = claims["institution_id"].where(claims["institution_id"].notna(), claims["pharmacy_id"]).astype(str)
    g = claims.assign(t=typ, i=pid).groupby(["t", "i"])["fund_amount"].agg(["size", "sum"])
    idx = pd.MultiIndex.from_arrays([prov["entity_type"].astype(str), prov["entity_id"].astype(str)])
    vol = g.reindex(idx).fillna(0.0)
    return {name: {"roc_auc": _auc(y, vol[col].to_numpy(float)),
                   "average_precision": _average_precision(y, vol[col].to_numpy(float))}
            for name, col in (("claim_count", "size"), ("fund_total", "sum"))}


DATE_ONLY_QUIRKS = ("dates_only", "date_strings")


def same_day_travel(report: dict[str, Any], store: Any) -> dict[str, int]:
    """``impossible_travel`` findings whose claims all fall on one date (on dates-only data such a
    finding rests on a time difference the data cannot show)."""
    fs = [f for f in report.get("findings", []) if f["kind"] == "impossible_travel"]
    if not fs:
        return {"findings": 0, "all_on_one_date": 0}
    ids = sorted({c for f in fs for c in f["claims"]})
    day = store.claims_by_id(ids, ["claim_id", "start_time"]).set_index("claim_id")["start_time"]
    day = day.astype(str).str[:10]
    one = sum(1 for f in fs if day.reindex(f["claims"]).nunique() <= 1)
    return {"findings": len(fs), "all_on_one_date": one}


def run_one(name: str, seed: int, patients: int, months: int, work: Path, keep: bool) -> dict[str, Any]:
    """Generate → load → scan → evaluate one variant city; figures of this run."""
    from graphkit.demo import generate_city
    from graphkit.demo.config import variant
    import pandas as pd

    from graphkit.evaluate import evaluate
    from graphkit.detectors import default_kinds
    from graphkit.scan import scan, write_scan
    from graphkit.store import open_store
    from loaders import load_bundle

    v = variant(name)
    base = work / f"{name}-s{seed}"
    shutil.rmtree(base, ignore_errors=True)
    bundle, store_dir, out = base / "bundle", base / "store", base / "scan"
    n = max(1000, round(patients * v.size))
    t0 = time.perf_counter()
    gen = generate_city(bundle, patients=n, seed=seed, months=months, variant=name)
    t1 = time.perf_counter()
    truth = json.loads((bundle / "truth.json").read_text("utf-8"))
    enc = "gb18030" if "csv_gb18030" in v.quirks else None
    t2 = t3 = t1
    try:
        res = load_bundle(bundle, store_dir, encoding=enc)
        if not res.report.ok:
            raise RuntimeError(f"load refused the bundle: {res.report.format(limit=3)}")
        t2 = time.perf_counter()
        store = open_store(store_dir)
        # opt-in kinds run where the city plants them (indicator_outlier: provider over-billing)
        planted = {i["kind"] for i in truth.get("instances", [])}
        if truth.get("provider_fraud"):  # evaluate counts planted over-billers as indicator_outlier instances
            planted.add("indicator_outlier")
        result = scan(store, kinds=default_kinds() + sorted(planted - set(default_kinds())))
        paths = write_scan(result, out)
        t3 = time.perf_counter()
    except Exception as exc:  # a crash is the worst case: every kind scores 0 in this run
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
        err = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        kinds = {k: {"instances": n, "findings": 0, "recall": 0.0, "precision_at_k": 0.0, "lookalikes_in_top_k": {},
                     "error": err} for k, n in truth.get("kinds", {}).items() if n}
        return {"variant": name, "seed": seed, "patients": n, "months": months, "quirks": list(v.quirks),
                "claims": gen["rows"]["claims"], "hard_negative_counts": truth.get("hard_negative_counts", {}),
                "kinds": kinds, "skipped": {}, "degraded": {}, "providers": None, "error": err,
                "seconds": {"generate": round(t1 - t0, 2), "load": round(t2 - t1, 2), "scan": round(t3 - t2, 2)}}
    report = json.loads(paths["findings"].read_text("utf-8"))
    ev = evaluate(truth, paths["findings"], paths["scores"])
    if ev.get("providers") is not None and not ev["providers"].get("baselines"):
        claims = store.table("claims", ["institution_id", "pharmacy_id", "fund_amount"])
        ev["providers"]["baselines"] = volume_baselines(truth, pd.read_csv(paths["scores"], dtype={"entity_id": str}),
                                                        claims)
    skipped = skipped_kinds(report, result)
    degraded = report.get("degraded") or {}
    travel = same_day_travel(report, store) if set(DATE_ONLY_QUIRKS) & set(v.quirks) else None
    if not keep:
        shutil.rmtree(base, ignore_errors=True)
    kinds = {}
    for kind, r in ev["kinds"].items():
        if not r["instances"]:
            continue
        kinds[kind] = {
            "instances": r["instances"], "findings": r["findings"], "recall": r["recall"],
            "precision_at_k": r["precision_at_k"], "lookalikes_in_top_k": r["hard_negatives_in_top_k"],
            **({"skipped": skipped[kind]} if kind in skipped else {}),
        }
    return {
        "variant": name, "seed": seed, "patients": n, "months": months, "quirks": list(v.quirks),
        "claims": gen["rows"]["claims"], "hard_negative_counts": truth.get("hard_negative_counts", {}),
        "kinds": kinds, "skipped": skipped, "degraded": degraded, "providers": ev.get("providers"),
        **({"dates_only_travel": travel} if travel is not None else {}),
        "seconds": {"generate": round(t1 - t0, 2), "load": round(t2 - t1, 2), "scan": round(t3 - t2, 2)},
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kind and for providers: per-variant figures, worst case and median over all runs."""
    kinds = sorted({k for r in runs for k in r["kinds"]})
    out: dict[str, Any] = {"kinds": {}, "providers": {}}
    for kind in kinds:
        per_variant: dict[str, Any] = {}
        vals: dict[str, list[float]] = {"recall": [], "precision_at_k": []}
        worst_at: dict[str, tuple[float, list[str]]] = {}
        na = []
        looks: dict[str, int] = {}
        for r in runs:
            x = r["kinds"].get(kind)
            if x is None:
                continue
            cell = per_variant.setdefault(r["variant"], {"recall": [], "precision_at_k": [], "skipped": [], "errors": []})
            if "error" in x:
                cell["errors"].append(x["error"])
            if "skipped" in x:
                cell["skipped"].append(x["skipped"])
                na.append({"variant": r["variant"], "seed": r["seed"], "reason": x["skipped"]})
                continue
            for m in ("recall", "precision_at_k"):
                if x[m] is not None:
                    cell[m].append(x[m])
                    vals[m].append(x[m])
                    at = f"{r['variant']} (seed {r['seed']})"
                    if x[m] < worst_at.get(m, (2.0, []))[0]:
                        worst_at[m] = (x[m], [at])
                    elif x[m] == worst_at[m][0]:
                        worst_at[m][1].append(at)
            for hk, c in x["lookalikes_in_top_k"].items():
                looks[hk] = looks.get(hk, 0) + c
        out["kinds"][kind] = {
            "per_variant": {v: {m: (min(c[m]) if c[m] else None) for m in ("recall", "precision_at_k")}
                            | {"runs": c, "skipped": c["skipped"][0] if c["skipped"] else None}
                            for v, c in per_variant.items()},
            "worst": {m: (min(vals[m]) if vals[m] else None) for m in vals},
            "worst_at": {m: w[1] for m, w in worst_at.items() if w[0] < 1.0},
            "median": {m: (statistics.median(vals[m]) if vals[m] else None) for m in vals},
            "not_applicable": na,
            "lookalikes_in_top_k": dict(sorted(looks.items(), key=lambda kv: -kv[1])),
        }
    cols = {"score": ("roc_auc", "average_precision")}
    series: dict[str, dict[str, list[float]]] = {}
    for r in runs:
        p = r.get("providers") or {}
        # all labels, then over-billers against clean providers alone (evaluate's providers.overbilling)
        for prefix, block in (("", p), ("overbillers: ", p.get("overbilling") or {})):
            for src, metr in [(f"{prefix}score", block)] + [(f"{prefix}{b}_alone", m) for b, m in block.get("baselines", {}).items()]:
                for m in cols["score"]:
                    if metr.get(m) is not None:
                        series.setdefault(src, {}).setdefault(m, []).append(metr[m])
    for src, ms in series.items():
        out["providers"][src] = {m: {"worst": min(v), "median": statistics.median(v)} for m, v in ms.items()}
    beats = [r["providers"]["roc_auc"] > max(b["roc_auc"] for b in r["providers"]["baselines"].values())
             for r in runs if r.get("providers") and r["providers"].get("baselines") and r["providers"]["roc_auc"] is not None]
    out["providers"]["score_beats_volume_in"] = f"{sum(beats)}/{len(beats)} runs"
    out["errors"] = [{"variant": r["variant"], "seed": r["seed"], "error": r["error"]} for r in runs if r.get("error")]
    scan_s = [r["seconds"]["scan"] for r in runs if not r.get("error")] or [0.0]
    out["scan_seconds"] = {"median": statistics.median(scan_s), "max": max(scan_s), "total": round(sum(scan_s), 1)}
    return out


def _f(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def format_table(runs: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """Worst/median per kind, one column per variant (worst over its seeds), provider figures."""
    variants = list(dict.fromkeys(r["variant"] for r in runs))
    lines = ["recall / precision@k — worst over seeds per variant; worst case and median over all runs", ""]
    head = "| kind | worst R | worst P@k | median R | median P@k | " + " | ".join(variants) + " |"
    lines += [head, "|" + "---|" * (5 + len(variants))]
    for kind, s in summary["kinds"].items():
        cells = []
        for v in variants:
            c = s["per_variant"].get(v)
            if c is None:
                cells.append("")
            elif c["runs"]["errors"]:
                cells.append(f"ERROR ({_f(c['recall'])} / {_f(c['precision_at_k'])})")
            elif c["skipped"] and c["recall"] is None:
                cells.append(f"n/a (skipped: {c['skipped']})")
            else:
                cells.append(f"{_f(c['recall'])} / {_f(c['precision_at_k'])}")
        lines.append(f"| {kind} | {_f(s['worst']['recall'])} | {_f(s['worst']['precision_at_k'])} | "
                     f"{_f(s['median']['recall'])} | {_f(s['median']['precision_at_k'])} | " + " | ".join(cells) + " |")
    for e in summary.get("errors", []):
        lines.append(f"ERROR {e['variant']} seed {e['seed']}: {e['error']} (every kind counted as 0)")
    lines += ["", "look-alikes among each kind's top k (all runs):"]
    for kind, s in summary["kinds"].items():
        if s["lookalikes_in_top_k"]:
            lines.append(f"  {kind}: " + ", ".join(f"{k} {n}" for k, n in s["lookalikes_in_top_k"].items()))
    deg = {(r["variant"], k) for r in runs for k in r.get("degraded", {})}
    if deg:
        lines += ["", "degraded (ran without some data): " + "; ".join(
            f"{v}: " + ", ".join(sorted(k for vv, k in deg if vv == v)) for v in dict.fromkeys(v for v, _ in deg))]
    for r in runs:
        if "dates_only_travel" in r:
            t = r["dates_only_travel"]
            lines.append(f"{r['variant']} seed {r['seed']}: impossible_travel findings with all claims on one date: "
                         f"{t['all_on_one_date']} of {t['findings']}")
    lines += ["", "| providers | ROC-AUC worst | ROC-AUC median | AP worst | AP median |", "|---|---|---|---|---|"]
    for src, m in summary["providers"].items():
        if isinstance(m, dict):
            lines.append(f"| {src} | {_f(m['roc_auc']['worst'])} | {_f(m['roc_auc']['median'])} | "
                         f"{_f(m['average_precision']['worst'])} | {_f(m['average_precision']['median'])} |")
    lines.append(f"score ROC-AUC above claim count and fund total alone in {summary['providers']['score_beats_volume_in']}")
    lines += ["", "| variant | seed | claims | generate s | load s | scan s | provider AUC | count AUC | fund AUC |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        p = r.get("providers") or {}
        b = p.get("baselines", {})
        lines.append(f"| {r['variant']} | {r['seed']} | {r['claims']:,} | {r['seconds']['generate']} | "
                     f"{r['seconds']['load']} | {r['seconds']['scan']} | {_f(p.get('roc_auc'))} | "
                     f"{_f(b.get('claim_count', {}).get('roc_auc'))} | {_f(b.get('fund_total', {}).get('roc_auc'))} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from graphkit.demo.config import VARIANTS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", help=f"comma-separated (default: all): {', '.join(VARIANTS)}")
    ap.add_argument("--seeds", default="0,1", help="comma-separated seeds (default 0,1)")
    ap.add_argument("--patients", type=int, default=20000, help="patients of a size-1 variant (default 20000)")
    ap.add_argument("--months", type=int, default=6)
    ap.add_argument("--quick", action="store_true", help=f"smoke run: {', '.join(QUICK_VARIANTS)}; seed 0; 8k patients")
    ap.add_argument("--work", default=str(ROOT / "out" / "robustness"), help="scratch folder (default out/robustness)")
    ap.add_argument("--keep", action="store_true", help="keep bundles, stores and scans")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "robustness.json"))
    a = ap.parse_args(argv)
    names = a.variants.split(",") if a.variants else list(VARIANTS)
    seeds = [int(s) for s in a.seeds.split(",")]
    patients = a.patients
    if a.quick:
        names = [n for n in names if n in QUICK_VARIANTS] if a.variants else list(QUICK_VARIANTS)
        seeds, patients = seeds[:1], min(patients, 8000)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    t0 = time.perf_counter()
    for name in names:
        for seed in seeds:
            r = run_one(name, seed, patients, a.months, work, a.keep)
            runs.append(r)
            p = r.get("providers") or {}
            if r.get("error"):
                print(f"{name:<20} seed {seed}: ERROR {r['error']}", flush=True)
                continue
            print(f"{name:<20} seed {seed}: {r['claims']:>8,} claims, scan {r['seconds']['scan']:>6.1f}s, "
                  f"provider AUC {_f(p.get('roc_auc'))}" + (f", skipped {sorted(r['skipped'])}" if r["skipped"] else ""),
                  flush=True)
    summary = summarise(runs)
    print()
    print(format_table(runs, summary))
    doc = {"bench": "robustness", "patients": patients, "months": a.months, "seeds": seeds, "variants": names,
           "variant_notes": {n: VARIANTS[n].note for n in names}, "seconds": round(time.perf_counter() - t0, 1),
           "summary": summary, "runs": runs}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1), "utf-8")
    print(f"\nwritten: {out} ({doc['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
