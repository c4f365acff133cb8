"""Does the provider risk score degrade gracefully when volume says nothing, or everything?

    .venv/bin/python bench/risk_variants.py --bundle out/c20 --out out/rv20

From one demo bundle (with ``truth.json``) it writes structurally different variants by
removing ordinary claims (never a planted or look-alike claim; claim items follow):

* ``as_is``: the bundle unchanged;
* ``fraud_small``: providers involved in planted fraud keep only as many ordinary claims as the
  lower quartile of the others — volume points the wrong way;
* ``fraud_big``: the other providers keep a fifth of their ordinary claims — volume is the main
  signal.

Each is loaded, scanned and evaluated; the table gives provider ROC-AUC / AP of ``score`` and
of claim count alone and fund total alone on the same labels (``providers.baselines``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
GK = [sys.executable, "-m", "graphkit.cli"]


def _positives(truth: dict) -> set[tuple[str, str]]:
    from graphkit.evaluate import NOT_INVOLVED_ROLES

    return {(e["type"], e["id"]) for i in truth["instances"] for e in i.get("entities", [])
            if e["type"] in ("institution", "pharmacy") and e.get("role") not in NOT_INVOLVED_ROLES}


def _table(bundle: Path, name: str) -> Path | None:
    for ext in (".parquet", ".csv.gz", ".csv"):
        if (bundle / f"{name}{ext}").exists():
            return bundle / f"{name}{ext}"
    return None


def _read(p: Path) -> pd.DataFrame:
    return pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p, dtype=str, keep_default_na=False)


def make_variant(bundle: Path, out: Path, name: str, seed: int = 0) -> dict:
    truth = json.loads((bundle / "truth.json").read_text("utf-8"))
    pos = _positives(truth)
    planted = {c for i in truth["instances"] for c in i.get("claims", [])}
    planted |= {c for h in truth.get("hard_negatives", []) for c in h.get("claims", [])}
    claims = _read(_table(bundle, "claims"))
    ptype = np.where(claims["institution_id"].notna() & (claims["institution_id"].astype(str) != ""), "institution", "pharmacy")
    pid = np.where(ptype == "institution", claims["institution_id"].astype(str), claims["pharmacy_id"].astype(str))
    is_pos = np.array([(t, i) in pos for t, i in zip(ptype, pid)])
    keep_always = claims["claim_id"].isin(planted).to_numpy()
    rng = np.random.default_rng(seed)
    u = rng.random(len(claims))
    keep = np.ones(len(claims), bool)
    if name == "fraud_small":
        counts = pd.Series(1, index=pd.MultiIndex.from_arrays([ptype, pid])).groupby(level=[0, 1]).size()
        neg = counts[[k not in pos for k in counts.index]]
        target = float(np.quantile(neg.to_numpy(), 0.25)) if len(neg) else 10.0
        key = pd.Series(list(zip(ptype, pid)))
        ordinary = pd.Series(~keep_always & is_pos)
        n_ord = ordinary.groupby(key).transform("sum").to_numpy(float)
        n_pl = pd.Series(keep_always & is_pos).groupby(key).transform("sum").to_numpy(float)
        frac = np.clip((target - n_pl) / np.maximum(n_ord, 1.0), 0.0, 1.0)
        keep = ~is_pos | keep_always | (u < frac)
    elif name == "fraud_big":
        keep = is_pos | keep_always | (u < 0.2)
    elif name != "as_is":
        raise SystemExit(f"unknown variant {name}")
    out.mkdir(parents=True, exist_ok=True)
    for f in bundle.iterdir():
        if f.is_file() and not f.name.startswith(("claims.", "claim_items.")):
            shutil.copy2(f, out / f.name)
    kept = claims[keep]
    kept.to_parquet(out / "claims.parquet", index=False)
    items = _table(bundle, "claim_items")
    if items is not None:
        it = _read(items)
        it[it["claim_id"].isin(set(kept["claim_id"]))].to_parquet(out / "claim_items.parquet", index=False)
    return {"claims": int(keep.sum()), "dropped": int((~keep).sum())}


def run(bundle: Path, work: Path) -> dict:
    store, res = work / "store", work / "scan"
    for args in (["load", str(bundle), "--store", str(store)], ["scan", "--store", str(store), "--out", str(res)],
                 ["evaluate", "--truth", str(bundle / "truth.json"), "--findings", str(res / "findings.json"),
                  "--json", str(work / "evaluation.json")]):
        cmd = [*GK, *args]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads((work / "evaluation.json").read_text("utf-8"))["providers"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--variants", default="as_is,fraud_small,fraud_big")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    rows = []
    for name in a.variants.split(","):
        work = Path(a.out) / name
        info = make_variant(Path(a.bundle), work / "bundle", name)
        p = run(work / "bundle", work)
        b = p.get("baselines", {})
        rows.append({"variant": name, **info, "providers": p["providers"], "positives": p["positives"],
                     "score_auc": p["roc_auc"], "score_ap": p["average_precision"],
                     "claims_auc": b.get("claim_count", {}).get("roc_auc"), "claims_ap": b.get("claim_count", {}).get("average_precision"),
                     "fund_auc": b.get("fund_total", {}).get("roc_auc"), "fund_ap": b.get("fund_total", {}).get("average_precision")})
    df = pd.DataFrame(rows)
    print(df.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
