"""``collusion_ring``, stage 4 — dense blocks: institutions with more heavy users (people
admitted there on ``min_block_visits`` days or more) than chance (:func:`heavy_user_venues`), the
FRAUDAR peel of their people × admission days into blocks (:func:`_peel_venue`), the household
test, the uniting of blocks with each other and with overlapping lock-step rings, and their
metrics and findings (:func:`_dense_rings`, :func:`_dense_metrics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from ..findings import Finding
from ._ringpairs import _surprise
from ._ringcontext import _Shared, _member_claims, _referrals_of, _units, admission_days
from ._ringfinding import THERAPY_DIAGNOSES, _final_factors, _finding, _joint_discharge, _organisers, _overlap


def heavy_user_venues(adm: pd.DataFrame, *, min_block_visits: int, min_surprise: float) -> tuple[pd.DataFrame, float]:
    """Per institution: admitted people ``n``, heavy users ``heavy`` (≥ ``min_block_visits``
    admission days there), their chance expectation ``n·q`` and Poisson surprise.

    ``q``, the share of (person, institution) pairs that are heavy, is estimated over the
    institutions whose own count is not surprising (iterated until stable), so the rings do
    not raise the bar they are measured against. Returns the frame and ``q``.
    """
    k = admission_days(adm).groupby(["institution_id", "patient_id"]).size()
    heavy = (k >= min_block_visits).groupby(level=0).sum().astype(float)
    n = k.groupby(level=0).size().astype(float)
    flag = np.zeros(len(n), bool)
    floor = 0.5 / max(float(n.sum()), 1.0)
    q = floor
    for _ in range(20):
        rest = ~flag
        q = max(float(heavy[rest].sum()) / max(float(n[rest].sum()), 1.0), floor)
        new = _surprise(heavy.to_numpy(), n.to_numpy() * q) >= min_surprise
        if (new == flag).all():
            break
        flag = new
    out = pd.DataFrame({"n": n, "heavy": heavy, "expected": n * q})
    out["surprise"] = _surprise(out["heavy"].to_numpy(), out["expected"].to_numpy())
    out["lift"] = out["heavy"] / out["expected"].clip(lower=1e-9)
    return out, q


def _peel_venue(visits: pd.DataFrame, k: pd.Series, main_doctor: pd.Series, *, min_block_visits: int,
                min_members: int, expected: float, min_surprise: float,
                window: int) -> list[tuple[list[str], float]]:
    """Blocks of heavy users at one institution: FRAUDAR peel of people × admission days
    (columns weighted ``1/ln(people admitted that day + 5)``), re-peeled without the people of
    each block found (at most 3 blocks). Each block: members and its average degree ``g``."""
    from ._peel import column_weights, peel

    crowd = visits.groupby("day")["patient_id"].nunique()
    sub = visits[visits["patient_id"].map(k).to_numpy() >= 2]
    w = column_weights(sub["day"].map(crowd).to_numpy(float))
    out: list[tuple[list[str], float]] = []
    rows, cols = sub["patient_id"].to_numpy(object), sub["day"].to_numpy(np.int64)
    for _ in range(3):
        r, c, g = peel(rows, cols, w)
        if len(r) < min_members:
            break
        # the greedy peel sheds members of a thin block early (few admissions on crowded days);
        # heavy users with at least half their admissions on the block's days (± window) belong to it
        near = np.unique((c[:, None] + np.arange(-window, window + 1)[None, :]).ravel())
        on = pd.Series(np.isin(cols, near)).groupby(rows).mean()
        extra = on.index[(on.to_numpy() >= 0.5) & (k.reindex(on.index).to_numpy() >= min_block_visits)]
        r = np.union1d(r, np.asarray(extra, dtype=object)).astype(object)
        # the greedy peel may keep two groups that share only the venue (a nursing home's and a
        # family's admissions on other days): connected parts of the block with min_members
        # heavy users are separate candidates; the heavy users of smaller parts, never admitted
        # on the same days (a ring admitted in turns), are candidates per main doctor
        inb = np.isin(rows, r) & np.isin(cols, c)
        ri = np.searchsorted(r, rows[inb])
        ci = len(r) + np.searchsorted(c, cols[inb])
        adj = sparse.coo_matrix((np.ones(len(ri)), (ri, ci)), shape=(len(r) + len(c),) * 2)
        _, lab = connected_components(adj, directed=False)
        rlab = lab[: len(r)]
        heavy = k.reindex(r).to_numpy() >= min_block_visits
        big = np.bincount(rlab[heavy], minlength=lab.max() + 1)[rlab] >= min_members
        parts = [r[heavy & big & (rlab == part)] for part in np.unique(rlab[heavy & big])]
        loose = r[heavy & ~big]
        # people never admitted on the same days need another tie: one doctor admitting them
        doc = main_doctor.reindex(loose).to_numpy(object)
        for d in pd.unique(doc[pd.notna(doc)]):
            parts.append(loose[doc == d])
        found = False
        for part in parts:
            members = sorted(part.tolist())
            if len(members) >= min_members and _surprise(len(members), expected) >= min_surprise:
                out.append((members, g))
                found = True
        if not found:
            break
        keep = ~np.isin(rows, r)
        rows, cols, w = rows[keep], cols[keep], w[keep]
    return out


def _dense_rings(shared: _Shared, p: dict[str, Any], lockstep: list[Finding]) -> list[Finding]:
    """Rings found as dense blocks of heavy users (see the module docstring). A block and a
    lock-step ring sharing a venue and half the smaller membership are one ring: the larger
    stays; a block absorbs the lock-step rings it outgrows (removed from ``lockstep`` in place)."""
    store = shared.store
    adm = shared.adm()
    if adm.empty:
        return []
    K = p["min_block_visits"]
    venues, q = heavy_user_venues(adm, min_block_visits=K, min_surprise=p["min_surprise"])
    cand = venues[(venues["heavy"] >= p["min_members"]) & (venues["surprise"] >= p["min_surprise"])
                  & (venues["lift"] >= p["min_lift"])]
    if cand.empty:
        return []
    visits = admission_days(adm)
    visits = visits[visits["institution_id"].isin(cand.index)]
    blocks: list[dict[str, Any]] = []
    docs = pd.DataFrame({"institution_id": adm["institution_id"].astype(str).to_numpy(object),
                         "patient_id": adm["patient_id"].astype(str).to_numpy(object),
                         "doctor_id": adm["doctor_id"].astype(object).to_numpy(object)})
    docs = docs[docs["institution_id"].isin(cand.index) & docs["doctor_id"].notna()]
    docs = docs.groupby(["institution_id", "patient_id", "doctor_id"]).size().rename("n").reset_index()
    docs = docs.sort_values(["institution_id", "patient_id", "n", "doctor_id"], ascending=[True, True, False, True])
    docs = docs.drop_duplicates(["institution_id", "patient_id"])
    for vid, vv in visits.groupby("institution_id", sort=True):
        k = vv.groupby("patient_id").size()
        dv = docs[docs["institution_id"] == vid]
        main_doctor = pd.Series(dv["doctor_id"].to_numpy(object), index=dv["patient_id"].to_numpy(object))
        expected = float(cand.at[vid, "expected"])
        for members, g in _peel_venue(vv, k, main_doctor, min_block_visits=K, min_members=p["min_members"],
                                      expected=expected, min_surprise=p["min_surprise"], window=p["window_days"]):
            blocks.append({"venues": {vid}, "members": set(members), "g": g, "expected": expected})
    if not blocks:
        return []
    # relations of everyone a ring may end up with: block members and the lock-step members a
    # block may absorb
    people = {x for b in blocks for x in b["members"]} | {x for f in lockstep for x in f.evidence["members"]}
    family, address = shared.relations(sorted(people))
    # households explain heavy use together (a nursing home's flu season, a family): the block
    # must hold min_members independent units, beyond chance
    blocks = [b for b in blocks if (u := _units(sorted(b["members"]), family, address)) >= p["min_members"]
              and _surprise(u, b["expected"]) >= p["min_surprise"]]
    # one ring at two institutions gives a block at each: unite blocks sharing half the smaller membership
    merged: list[dict[str, Any]] = []
    for b in sorted(blocks, key=lambda b: -len(b["members"])):
        for m in merged:
            if _overlap(m["members"], b["members"]):
                m["venues"] |= b["venues"]
                m["members"] |= b["members"]
                m["g"], m["expected"] = max(m["g"], b["g"]), m["expected"] + b["expected"]
                break
        else:
            merged.append({**b, "venues": set(b["venues"]), "members": set(b["members"])})
    # overlapping detections are one ring: the larger membership wins; a block absorbs the
    # lock-step rings it overlaps (a thinly attended ring leaves several small lock-step parts)
    absorbed: set[str] = set()
    kept = []
    for b in merged:
        over = [f for f in lockstep
                if b["venues"] & set(f.evidence["venues"]) and _overlap(b["members"], set(f.evidence["members"]))]
        if over and len(b["members"]) <= max(len(f.evidence["members"]) for f in over):
            continue
        for f in over:
            b["members"] |= set(f.evidence["members"])
            absorbed.add(f.id)
        kept.append(b)
    merged = kept
    lockstep[:] = [f for f in lockstep if f.id not in absorbed]
    if not merged:
        return []
    groups = [sorted(b["members"]) for b in merged]
    cl = _member_claims(store, groups)
    refs = _referrals_of(store, sorted({x for g in groups for x in g}))
    ctx = shared.context()
    findings = []
    at_group = cl.groupby("group").indices
    parts = []
    for gi, b in enumerate(merged):
        mine = cl.iloc[at_group.get(gi, np.empty(0, np.int64))]
        at = mine["venue"].isin({f"institution:{v}" for v in b["venues"]}).to_numpy(bool)
        rows = mine[at & (mine["mode"] == "inpatient").to_numpy(bool)]
        rows = rows.assign(event=rows.groupby(["venue", "day"], sort=True).ngroup())
        parts.append((mine, rows))
    # organisers and joint discharges of every block at once (events numbered apart per block)
    offsets = np.cumsum([0] + [int(rows["event"].max()) + 1 if len(rows) else 0 for _, rows in parts])
    every = pd.concat([rows.assign(group=gi, event=rows["event"].to_numpy() + offsets[gi])
                       for gi, (_, rows) in enumerate(parts)])
    blocks_at = pd.Index(range(len(merged)))
    organisers, org_conc = _organisers(every, blocks_at)
    joint = _joint_discharge(every, p["window_days"]).reindex(blocks_at).fillna(0.0)
    for gi, b in enumerate(merged):
        mine, rows = parts[gi]
        r = _dense_metrics(rows, mine, b, p, organisers=organisers.iloc[gi], org_conc=float(org_conc.iloc[gi]),
                           joint_discharge=float(joint.iloc[gi]))
        per_event = rows.groupby("event").agg(venue=("venue", "first"), mode=("mode", "first"), day=("day", "min"))
        lp = float(-_surprise(r["m"], b["expected"]))
        null = {"method": ("Poisson tail of the block's heavy users (>= min_block_visits admissions at the venue)"
                           " vs people admitted there x the city's heavy-user share"),
                "log10_p": lp, "log10_p_uniform": lp, "observed": int(r["m"]), "expected": float(b["expected"]),
                "n_tests": ctx["n_institutions"]}
        info = _final_factors(pd.Series(r), rows, per_event, family, address, refs, p, ctx, null)
        if info["score"] < p["min_score"]:
            continue
        key = ("dense", "venues", *r["venues"], "organisers", *sorted(r["organisers"]))
        findings.append(_finding(key, {**r, **info, "rows": rows, "events": per_event}, p))
    return findings


def _dense_metrics(rows: pd.DataFrame, mine: pd.DataFrame, b: dict[str, Any], p: dict[str, Any], *,
                   organisers: list[str], org_conc: float, joint_discharge: float) -> dict[str, Any]:
    """Strength and the event-level factors of one dense block (the lock-step ``_metrics`` for
    a single group whose events are admission days); its organisers and joint-discharge share
    are computed for all blocks at once by the caller."""
    members = sorted(rows["patient_id"].unique())
    m, n_events = len(members), int(rows["event"].nunique())
    visits = int(rows.drop_duplicates(["patient_id", "event"]).shape[0])
    claims = rows.drop_duplicates("claim_id")
    fund = float(claims["fund_amount"].sum())
    lift = m / max(b["expected"], 1e-9)
    density = visits / max(m * n_events, 1)
    inp_all = mine[(mine["mode"] == "inpatient").to_numpy(bool)]["claim_id"].nunique()
    jd = joint_discharge
    diag = rows["diagnosis_code"].fillna("").astype(str)
    therapy = float(diag.str.startswith(THERAPY_DIAGNOSES).mean())
    synchrony = len(claims) / max(inp_all, 1)  # share of the members' admissions that were at the venues
    return {
        "method": "dense_block", "members": members, "m": m, "n_events": n_events, "visits": visits,
        "venues": sorted(f"institution:{v}" for v in b["venues"]), "organisers": organisers,
        "org_conc": org_conc, "density": density, "lift": lift, "pair_lift": lift, "fund": fund,
        "synchrony": synchrony, "camouflage": 1.0 - len(claims) / max(mine["claim_id"].nunique(), 1),
        "inpatient_share": 1.0, "pharmacy_share": 0.0, "time_sync": 1.0, "joint_discharge": jd,
        "therapy_diag": therapy,
        "block": {"peel_average_degree": round(float(b["g"]), 4), "block_days": n_events,
                  "heavy_users": m, "heavy_users_expected": round(float(b["expected"]), 3),
                  "min_admissions": int(p["min_block_visits"])},
    }
