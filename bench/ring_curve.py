"""Detection curve of the ``collusion_ring`` detector as ring density and camouflage vary.

FRAUDAR (Hooi et al., KDD 2016) plants a dense block of fraudulent users × products into a
real graph, thins it to a *block density* and adds *camouflage* (edges from the fraudsters
to random honest products), then reports F-measure as the density falls. This script does
the same for collusion rings in a demo city:

1. A base city is generated once (``fraud_rate=0``) and every planted row of its
   ``truth.json`` (claims and context claims of all kinds, with their claim items) is
   removed, so the base holds no ring at all; it is cached under ``--cache``.
2. For each (density, camouflage) cell, ``--rings`` rings are planted as new claim rows
   (:func:`plant_rings`): 10–15 unrelated normal people (no registered family, one per
   address, no own inpatient stay), 1–2 doctors of one private level-1/2 hospital,
   ``--episodes`` admission days 1–4 weeks apart; every member attends every episode
   independently with probability = density (the fill of the members × episodes block);
   stays of 2–10 days admitted within ±1 day of the episode day, amounts drawn from the
   city's own inpatient claims. Camouflage ``c`` adds, per member, ``round(c × 3 × their
   ring claims)`` ordinary outpatient visits at other providers (mostly the big public
   hubs, by their volume) on random days outside the member's planted stays.
3. Each cell is loaded into its own store and ``collusion_rings(store)`` runs with its
   defaults. Per planted ring: best-match member Jaccard and member F1
   (:func:`graphkit.evaluate._member_scores`), against all planted members and against the
   *active* members (those planted at ≥ 2 episodes: a member attending once or never
   leaves no co-visit to find). Ring recall: share of rings with best Jaccard ≥ 0.5. Ring
   precision: share of findings whose members lie at least half inside one planted ring.

Usage::

    python bench/ring_curve.py --patients 10000 --seed 1 \\
        --densities 1.0,0.5,0.25,0.12,0.06,0.04 --camouflage 0,1 --json bench/results/ring_curve.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # ``loaders`` lives at the repository root
    sys.path.insert(0, str(ROOT))

DAY = np.timedelta64(1, "D")
HOUR = np.timedelta64(1, "h")
F_TARGET = 0.95


# ------------------------------------------------------------------------------------------
# base city
# ------------------------------------------------------------------------------------------
def read_tables(bundle: Path) -> dict[str, pd.DataFrame]:
    return {p.name[: -len(".parquet")]: pd.read_parquet(p) for p in sorted(Path(bundle).glob("*.parquet"))}


def write_tables(tables: dict[str, pd.DataFrame], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_parquet(out / f"{name}.parquet", index=False)


def make_base(cache: str | Path, patients: int, seed: int) -> Path:
    """A demo city without any planted fraud (cached): ``<cache>/ring-curve-base-<N>-<seed>``."""
    from graphkit.demo import generate_city

    base = Path(cache) / f"ring-curve-base-{patients}-{seed}"
    if (base / "claims.parquet").exists() and (base / "base.json").exists():
        return base
    raw = Path(cache) / f"ring-curve-raw-{patients}-{seed}"
    generate_city(raw, patients=patients, seed=seed, fmt="parquet", fraud_rate=0.0)
    truth = json.loads((raw / "truth.json").read_text("utf-8"))
    planted: set[str] = set()
    people: set[str] = set()
    for inst in truth.get("instances", []):
        planted.update(inst.get("claims", []))
        planted.update(inst.get("context_claims", []))
        people.update(e["id"] for e in inst.get("entities", []) if e["type"] == "patient")
    for h in truth.get("hard_negatives", []):
        people.update(e["id"] for e in h.get("entities", []) if e.get("type") == "patient")
    tables = read_tables(raw)
    tables["claims"] = tables["claims"][~tables["claims"]["claim_id"].isin(planted)].reset_index(drop=True)
    if "claim_items" in tables:
        ci = tables["claim_items"]
        tables["claim_items"] = ci[~ci["claim_id"].isin(planted)].reset_index(drop=True)
    tmp = base.with_name(base.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    write_tables(tables, tmp)
    (tmp / "base.json").write_text(json.dumps({
        "patients": patients, "seed": seed, "period": truth.get("period"),
        "removed_claims": len(planted), "excluded_people": sorted(people),
    }), "utf-8")
    shutil.rmtree(base, ignore_errors=True)
    tmp.rename(base)
    shutil.rmtree(raw, ignore_errors=True)
    return base


# ------------------------------------------------------------------------------------------
# planting
# ------------------------------------------------------------------------------------------
def _member_pool(tables: dict[str, pd.DataFrame], exclude: set[str], day0: np.datetime64) -> pd.DataFrame:
    """Eligible ring members: alive adults, one card, no family, no stay, one per address."""
    pts = tables["patients"]
    ct = tables["contacts"]
    cards = tables["cards"]
    cl = tables["claims"]
    fam = ct[ct["kind"] == "family"]
    related = set(fam["patient_id"]) | set(fam["value"])
    stays = set(cl.loc[cl["claim_type"] == "inpatient", "patient_id"])
    ncard = cards.groupby("patient_id").size()
    birth = pd.to_datetime(pts["birth_date"], errors="coerce")
    age = (pd.Timestamp(day0) - birth).dt.days / 365.25
    ok = (pts["death_date"].isna() & age.between(18, 85) & ~pts["patient_id"].isin(related)
          & ~pts["patient_id"].isin(stays) & ~pts["patient_id"].isin(exclude)
          & pts["patient_id"].map(ncard).eq(1))
    pool = pts.loc[ok, ["patient_id", "region"]].copy()
    addr = ct[ct["kind"] == "address"].drop_duplicates("patient_id").set_index("patient_id")["value"]
    pool["address"] = pool["patient_id"].map(addr).fillna(pool["patient_id"])
    shared = addr.value_counts()
    pool = pool[pool["address"].map(shared).fillna(1) <= 1]  # nobody else at that address
    pool["card_id"] = pool["patient_id"].map(cards.drop_duplicates("patient_id").set_index("patient_id")["card_id"])
    return pool.reset_index(drop=True)


def _venues(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Private level-1/2 hospitals of the home prefecture that admit patients and have doctors."""
    inst = tables["institutions"]
    cl = tables["claims"]
    ip = cl[cl["claim_type"] == "inpatient"].groupby("institution_id").size()
    nd = tables["doctors"].groupby("institution_id").size()
    v = inst[(inst["ownership"] == "private") & inst["level"].isin([1, 2]) & (inst["kind"] == "hospital")].copy()
    v["stays"] = v["institution_id"].map(ip).fillna(0)
    v["doctors"] = v["institution_id"].map(nd).fillna(0)
    home = v["region"].astype(str).str[:4].value_counts().index[0] if len(v) else ""
    v = v[(v["stays"] >= 5) & (v["doctors"] >= 1)]
    v = v.assign(home=v["region"].astype(str).str.startswith(home))
    return v.sort_values(["home", "stays"], ascending=[False, False]).reset_index(drop=True)


def plant_rings(tables: dict[str, pd.DataFrame], *, rings: int = 4, density: float = 1.0,
                camouflage: float = 0.0, episodes: int = 12, size: tuple[int, int] = (10, 15),
                seed: int = 0, exclude: set[str] | None = None,
                id_prefix: str = "CR") -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """Plant ``rings`` collusion rings into a copy of ``tables`` (new claim rows only).

    Returns the new tables and one truth instance per ring (``kind``, ``entities`` with the
    members, organiser doctors and venue, ``claims`` = ring claims, ``camouflage_claims``,
    ``incidence`` = members × episodes 0/1 matrix, ``planted_density``).
    """
    rng = np.random.default_rng(seed)
    # separate streams: who is in which ring and the uniform draws behind the incidence come
    # from ``rng`` alone, so the rings are the same at every camouflage and nested across
    # densities (a member-episode planted at density d is planted at every higher density)
    rng_c = np.random.default_rng([seed, 2])     # per-claim details
    rng_camo = np.random.default_rng([seed, 1])  # camouflage
    cl = tables["claims"]
    st = cl["start_time"].to_numpy("datetime64[s]")
    day0 = st.min().astype("datetime64[D]")
    ndays = int((st.max().astype("datetime64[D]") - day0) / DAY) + 1
    pool = _member_pool(tables, exclude or set(), np.datetime64(day0))
    pool = pool.iloc[rng.permutation(len(pool))].reset_index(drop=True)
    venues = _venues(tables)
    if len(venues) < rings:
        raise RuntimeError(f"only {len(venues)} private level-1/2 hospitals for {rings} rings")
    docs = tables["doctors"]
    inp = cl[cl["claim_type"] == "inpatient"]
    inp_private = inp[inp["institution_id"].isin(venues["institution_id"])]
    outp = cl[cl["claim_type"] == "outpatient"]
    chosen_venues = venues.iloc[:max(rings, min(len(venues), 2 * rings))]
    chosen_venues = chosen_venues.iloc[rng.permutation(len(chosen_venues))[:rings]].reset_index(drop=True)
    camo_templates = outp[~outp["institution_id"].isin(chosen_venues["institution_id"])]
    used = np.zeros(len(pool), dtype=bool)
    rows: list[dict[str, Any]] = []
    instances: list[dict[str, Any]] = []
    next_id = 0

    def new_id() -> str:
        nonlocal next_id
        next_id += 1
        return f"{id_prefix}{next_id:09d}"

    for r in range(rings):
        v = chosen_venues.iloc[r]
        vid = v["institution_id"]
        n = int(rng.integers(size[0], size[1] + 1))
        # members: unused pool people, the venue's district first, one per address
        near = (pool["region"].astype(str) == str(v["region"])).to_numpy() & ~used
        order = np.concatenate([np.flatnonzero(near), np.flatnonzero(~near & ~used)])
        picked: list[int] = []
        seen_addr: set[str] = set()
        for i in order:
            a = pool.at[int(i), "address"]
            if a in seen_addr:
                continue
            seen_addr.add(a)
            picked.append(int(i))
            if len(picked) == n:
                break
        if len(picked) < n:
            raise RuntimeError("not enough eligible people to plant the rings; use more patients")
        used[picked] = True
        mem = pool.iloc[picked]
        vdocs = docs[docs["institution_id"] == vid]
        rd = vdocs.iloc[rng.choice(len(vdocs), min(len(vdocs), int(rng.integers(1, 3))), replace=False)]
        # episodes: every 1-4 weeks
        gaps = rng.integers(7, 29, episodes)
        span = int(gaps[:-1].sum())
        room = ndays - 14
        if span > room:  # more episodes than 1-4 week gaps fit in the period: compress (>= 4 days)
            gaps = np.maximum(4, np.floor(gaps * room / span)).astype(np.int64)
            span = int(gaps[:-1].sum())
        if span <= room:
            first = int(rng.integers(1, max(2, ndays - span - 12)))
            ep_day = first + np.concatenate([[0], np.cumsum(gaps[:-1])])
            ep_los = np.array([int(rng.integers(2, max(3, min(10, int(gaps[k]) - 2) + 1))) for k in range(episodes)])
        else:  # FRAUDAR shape (e.g. 200 episode days): distinct days anywhere in the period
            if episodes > room:
                raise ValueError(f"{episodes} episodes do not fit in {ndays} days")
            ep_day = np.sort(rng.choice(np.arange(1, room + 1), episodes, replace=False))
            ep_los = rng.integers(2, 11, episodes)
        inc = rng.random((n, episodes)) < density
        templ = inp[inp["institution_id"] == vid]
        if len(templ) < 5:
            templ = inp_private
        terms = cl.loc[(cl["institution_id"] == vid) & cl["terminal_id"].notna(), "terminal_id"].unique()
        ring_ids: list[str] = []
        camo_ids: list[str] = []
        for m in range(n):
            pid, card = mem.iloc[m]["patient_id"], mem.iloc[m]["card_id"]
            busy: list[tuple[int, int]] = []
            for k in np.flatnonzero(inc[m]):
                t = templ.iloc[int(rng_c.integers(0, len(templ)))]
                adm = int(ep_day[k] + rng_c.integers(-1, 2))
                adm = min(max(adm, 0), ndays - 12)
                los = int(max(2, ep_los[k] - rng_c.integers(0, 2)))
                if any(adm <= b and adm + los >= a for a, b in busy):
                    inc[m, k] = False  # scattered episodes: one person is never in two stays at once
                    continue
                start = day0 + np.timedelta64(adm, "D") + np.timedelta64(8 * 3600 + int(rng_c.integers(0, 3 * 3600)), "s")
                end = (day0 + np.timedelta64(adm + los, "D")
                       + np.timedelta64(9 * 3600 + int(rng_c.integers(0, 3 * 3600)), "s"))
                tlos = max(1.0, (t["end_time"] - t["start_time"]).total_seconds() / 86400.0) \
                    if pd.notna(t["end_time"]) else float(los)
                total = round(float(t["total_amount"]) / tlos * los * float(rng_c.uniform(0.85, 1.15)), 2)
                share = float(t["fund_amount"]) / float(t["total_amount"]) if float(t["total_amount"]) > 0 else 0.7
                fund = round(total * share, 2)
                d = rd.iloc[int(rng_c.integers(0, len(rd)))]
                cid = new_id()
                ring_ids.append(cid)
                busy.append((adm - 1, adm + los + 1))
                rows.append({
                    "claim_id": cid, "card_id": card, "patient_id": pid, "claim_type": "inpatient",
                    "institution_id": vid, "pharmacy_id": None, "doctor_id": d["doctor_id"],
                    "department": d["department"] if pd.notna(d["department"]) else t["department"],
                    "start_time": start, "end_time": end, "diagnosis_code": t["diagnosis_code"],
                    "total_amount": total, "fund_amount": fund, "self_amount": round(total - fund, 2),
                    "referral_id": None,
                    "terminal_id": terms[int(rng_c.integers(0, len(terms)))] if len(terms) else None,
                })
            n_camo = int(round(camouflage * 3 * int(inc[m].sum())))
            if n_camo:
                tt = camo_templates.iloc[rng_camo.integers(0, len(camo_templates), n_camo)]
                days = rng_camo.integers(0, ndays, n_camo)
                for _ in range(50):  # redraw days inside the member's planted stays
                    bad = np.zeros(n_camo, dtype=bool)
                    for a, b in busy:
                        bad |= (days >= a) & (days <= b)
                    if not bad.any():
                        break
                    days[bad] = rng_camo.integers(0, ndays, int(bad.sum()))
                for (_, t), dd in zip(tt.iterrows(), days):
                    tod = t["start_time"] - t["start_time"].normalize()
                    start = pd.Timestamp(day0 + np.timedelta64(int(dd), "D")) + tod
                    cid = new_id()
                    camo_ids.append(cid)
                    rec = t.to_dict()
                    rec.update(claim_id=cid, card_id=card, patient_id=pid, start_time=start, end_time=None,
                               referral_id=None)
                    rows.append(rec)
        ents = [{"type": "patient", "id": p, "role": "member"} for p in mem["patient_id"]]
        ents += [{"type": "doctor", "id": d, "role": "organiser"} for d in rd["doctor_id"]]
        ents.append({"type": "institution", "id": vid, "role": "venue"})
        instances.append({
            "id": f"R{r + 1:02d}", "kind": "collusion_ring", "variant": "inpatient",
            "key": {"type": "ring", "institutions": [vid], "doctors": sorted(rd["doctor_id"])},
            "entities": ents, "claims": ring_ids, "camouflage_claims": camo_ids,
            "members": n, "episodes": episodes, "density": density, "camouflage": camouflage,
            "planted_density": round(float(inc.mean()), 4),
            "active_members": [p for p, a in zip(mem["patient_id"], inc.sum(axis=1)) if a >= 2],
            "incidence": inc.astype(int).tolist(),
        })
    out = dict(tables)
    if rows:
        new = pd.DataFrame(rows, columns=list(cl.columns))
        for c in cl.columns:
            if str(cl[c].dtype).startswith("datetime64"):
                new[c] = pd.to_datetime(new[c]).astype(cl[c].dtype)
            elif pd.api.types.is_float_dtype(cl[c].dtype):
                new[c] = pd.to_numeric(new[c]).astype(cl[c].dtype)
            else:
                new[c] = new[c].astype(cl[c].dtype)
        out["claims"] = pd.concat([cl, new], ignore_index=True)
    return out, instances


# ------------------------------------------------------------------------------------------
# scoring
# ------------------------------------------------------------------------------------------
def score_cell(instances: list[dict[str, Any]], findings: list) -> dict[str, Any]:
    from graphkit.evaluate import _member_scores

    per = (_member_scores(instances, findings) or {"per_instance": []})["per_instance"]
    active = [{**i, "entities": [{"type": "patient", "id": p, "role": "member"} for p in i["active_members"]]}
              for i in instances]
    per_act = {x["instance"]: x for x in (_member_scores(active, findings) or {"per_instance": []})["per_instance"]}
    rings = []
    for inst, x in zip(instances, per):
        a = per_act.get(inst["id"], {})
        rings.append({
            "ring": inst["id"], "members": inst["members"], "active_members": len(inst["active_members"]),
            "planted_density": inst["planted_density"], "ring_claims": len(inst["claims"]),
            "camouflage_claims": len(inst["camouflage_claims"]),
            "best_jaccard": x["best_jaccard"], "member_f1": x["member_f1"], "finding": x["finding"],
            "best_jaccard_active": a.get("best_jaccard", 0.0), "member_f1_active": a.get("member_f1", 0.0),
            "matched": x["best_jaccard"] >= 0.5,
        })
    truth_sets = [{e["id"] for e in i["entities"] if e["type"] == "patient"} for i in instances]
    tp = 0
    for f in findings:
        found = set(f.entity_ids("patient", "member")) or set(f.entity_ids("patient"))
        if found and any(len(found & t) >= 0.5 * len(found) for t in truth_sets):
            tp += 1
    n = len(rings)
    return {
        "rings": rings,
        "findings": len(findings),
        "mean_member_f1": round(float(np.mean([r["member_f1"] for r in rings])), 3) if n else None,
        "mean_best_jaccard": round(float(np.mean([r["best_jaccard"] for r in rings])), 3) if n else None,
        "mean_member_f1_active": round(float(np.mean([r["member_f1_active"] for r in rings])), 3) if n else None,
        "ring_recall": round(sum(r["matched"] for r in rings) / n, 3) if n else None,
        "ring_precision": round(tp / len(findings), 3) if findings else None,
    }


# ------------------------------------------------------------------------------------------
# running
# ------------------------------------------------------------------------------------------
def run_cell(base: Path, base_tables: dict[str, pd.DataFrame], work: Path, *, density: float,
             camouflage: float, rings: int, episodes: int, seed: int, exclude: set[str],
             keep: bool = False, size: tuple[int, int] = (10, 15)) -> dict[str, Any]:
    from graphkit import open_store
    from graphkit.detectors.rings import collusion_rings
    from loaders import load_bundle

    tag = f"d{density:g}-c{camouflage:g}-s{seed}"
    bundle, store_dir = work / tag / "bundle", work / tag / "store"
    shutil.rmtree(work / tag, ignore_errors=True)
    t0 = time.perf_counter()
    tables, instances = plant_rings(base_tables, rings=rings, density=density, camouflage=camouflage,
                                    episodes=episodes, size=size, seed=seed, exclude=exclude)
    t1 = time.perf_counter()
    bundle.mkdir(parents=True)
    for p in base.glob("*.parquet"):
        if p.stem != "claims":
            shutil.copy(p, bundle / p.name)
    tables["claims"].to_parquet(bundle / "claims.parquet", index=False)
    load_bundle(bundle, store_dir, allow_demo_key=True)
    t2 = time.perf_counter()
    findings = collusion_rings(open_store(store_dir))
    t3 = time.perf_counter()
    res = score_cell(instances, findings)
    res.update(density=density, camouflage=camouflage, seed=seed,
               planted_density=round(float(np.mean([i["planted_density"] for i in instances])), 4),
               seconds={"plant": round(t1 - t0, 2), "write_load": round(t2 - t1, 2), "detect": round(t3 - t2, 2)})
    if not keep:
        shutil.rmtree(work / tag, ignore_errors=True)
    return res


def _fmt_table(cells: list[dict[str, Any]], densities: list[float], camos: list[float], key: str) -> str:
    head = "| density \\ camouflage | " + " | ".join(f"c = {c:g}" for c in camos) + " |"
    lines = [head, "|---" * (len(camos) + 1) + "|"]
    for d in densities:
        row = [f"{d:g}"]
        for c in camos:
            cs = [x for x in cells if x["density"] == d and x["camouflage"] == c]
            rr = [r for x in cs for r in x["rings"]]
            if not rr:
                row.append("-")
                continue
            f1 = np.mean([r[key] for r in rr])
            rec = np.mean([r["matched"] for r in rr])
            row.append(f"{f1:.3f} ({rec:.2f})")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def summarise(cells: list[dict[str, Any]], densities: list[float], camos: list[float]) -> dict[str, Any]:
    agg = []
    for d in densities:
        for c in camos:
            rr = [r for x in cells if x["density"] == d and x["camouflage"] == c for r in x["rings"]]
            fs = [x for x in cells if x["density"] == d and x["camouflage"] == c]
            if not rr:
                continue
            nf = sum(x["findings"] for x in fs)
            tp = sum((x["ring_precision"] or 0) * x["findings"] for x in fs)
            agg.append({
                "density": d, "camouflage": c, "rings": len(rr),
                "mean_member_f1": round(float(np.mean([r["member_f1"] for r in rr])), 3),
                "mean_best_jaccard": round(float(np.mean([r["best_jaccard"] for r in rr])), 3),
                "mean_member_f1_active": round(float(np.mean([r["member_f1_active"] for r in rr])), 3),
                "ring_recall": round(float(np.mean([r["matched"] for r in rr])), 3),
                "ring_precision": round(tp / nf, 3) if nf else None,
                "findings": nf,
            })
    breaks = {}
    for c in camos:
        ok = [a["density"] for a in agg if a["camouflage"] == c and a["mean_member_f1"] >= F_TARGET]
        low = [a["density"] for a in agg if a["camouflage"] == c and a["mean_member_f1"] < F_TARGET]
        breaks[f"{c:g}"] = {"lowest_density_f_ge_target": min(ok) if ok else None,
                            "highest_density_f_below_target": max(low) if low else None}
    return {"cells": agg, "breaks": breaks}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1, help="city seed")
    ap.add_argument("--densities", default="1.0,0.6,0.3,0.15,0.08,0.04")
    ap.add_argument("--camouflage", default="0,0.5,1.0")
    ap.add_argument("--rings", type=int, default=4, help="rings planted per cell")
    ap.add_argument("--reps", type=int, default=1, help="independent plantings per cell (seeds)")
    ap.add_argument("--episodes", type=int, default=12,
                    help="candidate episodes per ring (K); beyond ~20 the 1-4 week gaps are compressed to fit")
    ap.add_argument("--size", default="10,15",
                    help="ring members: 'LO,HI' drawn per ring, or one number (FRAUDAR's blocks: --size 200 --episodes 200)")
    ap.add_argument("--json", default=None, help="write all figures to this path")
    ap.add_argument("--cache", default=".bench-cache")
    ap.add_argument("--keep", action="store_true", help="keep each cell's bundle and store")
    args = ap.parse_args(argv)
    densities = [float(x) for x in args.densities.split(",") if x.strip()]
    sz = [int(x) for x in args.size.split(",") if x.strip()]
    size = (sz[0], sz[-1])
    camos = [float(x) for x in args.camouflage.split(",") if x.strip()]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    base = make_base(cache, args.patients, args.seed)
    meta = json.loads((base / "base.json").read_text("utf-8"))
    exclude = set(meta["excluded_people"])
    base_tables = read_tables(base)
    t_base = time.perf_counter() - t0
    # findings on the ring-free base: the detector's false positives before any planting
    from graphkit import open_store
    from graphkit.detectors.rings import collusion_rings
    from loaders import load_bundle
    bstore = cache / f"ring-curve-base-{args.patients}-{args.seed}-store"
    if not (bstore / "claims.parquet").exists() and not any(bstore.glob("*")):
        load_bundle(base, bstore, allow_demo_key=True)
    base_findings = len(collusion_rings(open_store(bstore)))
    print(f"base city: {args.patients} patients, seed {args.seed}, {len(base_tables['claims'])} claims, "
          f"{meta['removed_claims']} planted claims removed, {base_findings} ring findings on the clean base "
          f"({t_base:.1f}s)", flush=True)
    work = cache / f"ring-curve-cells-{args.patients}-{args.seed}"
    cells = []
    for d in densities:
        for c in camos:
            for rep in range(args.reps):
                s = 1000 * args.seed + 17 * rep + 1
                res = run_cell(base, base_tables, work, density=d, camouflage=c, rings=args.rings,
                               episodes=args.episodes, seed=s, exclude=exclude, keep=args.keep,
                               size=size)
                cells.append(res)
                print(f"density {d:<5g} camouflage {c:<4g} rep {rep}: planted density {res['planted_density']:.3f}  "
                      f"member F1 {res['mean_member_f1']:.3f}  Jaccard {res['mean_best_jaccard']:.3f}  "
                      f"recall {res['ring_recall']:.2f}  precision "
                      f"{'-' if res['ring_precision'] is None else format(res['ring_precision'], '.2f')}  "
                      f"findings {res['findings']}  ({sum(res['seconds'].values()):.1f}s)", flush=True)
    summ = summarise(cells, densities, camos)
    table = _fmt_table(cells, densities, camos, "member_f1")
    table_act = _fmt_table(cells, densities, camos, "member_f1_active")
    print("\nmean member F1 over planted rings (ring recall at best Jaccard >= 0.5):")
    print(table)
    print("\nsame, against the active members (planted at >= 2 episodes):")
    print(table_act)
    print()
    for c, b in summ["breaks"].items():
        lo, hi = b["lowest_density_f_ge_target"], b["highest_density_f_below_target"]
        if hi is None:
            print(f"camouflage {c}: F >= {F_TARGET} at every density tested (down to {lo:g})")
        elif lo is None:
            print(f"camouflage {c}: F < {F_TARGET} at every density tested")
        else:
            print(f"camouflage {c}: F >= {F_TARGET} down to density {lo:g}; below it from density {hi:g}")
    out = {
        "benchmark": "ring_curve", "patients": args.patients, "seed": args.seed, "episodes": args.episodes, "size": list(size),
        "rings_per_cell": args.rings, "reps": args.reps, "densities": densities, "camouflage": camos,
        "f_target": F_TARGET, "base": {"claims": int(len(base_tables["claims"])),
                                       "removed_planted_claims": meta["removed_claims"],
                                       "findings_on_clean_base": base_findings},
        "summary": summ, "table_member_f1": table, "table_member_f1_active": table_act,
        "cells": cells, "seconds_total": round(time.perf_counter() - t0, 1),
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1, ensure_ascii=False), "utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
