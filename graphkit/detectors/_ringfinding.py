"""``collusion_ring``, stage 3 — lock-step rings scored and written as findings:
:func:`_evaluate` runs stage 2 on the communities and scores every candidate ring; the ring
metrics (:func:`_metrics`: density, lift, synchrony, camouflage, organisers, joint discharges,
therapy codes), the member pool and member-set Bonferroni term, the benign factors and the
score (:func:`_final_factors`, with :mod:`._ringnull`), and the assembly of one
:class:`~graphkit.findings.Finding` with its bilingual summary and evidence (:func:`_finding`),
which the dense-block stage shares.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..findings import Entity, Finding
from ._common import benign_factor, surprise, surprise_score, yuan
from ._ringnull import CAMPAIGN_DIAGNOSES, RingNull, ring_checks
from ._ringcontext import _Shared, _member_claims, _referrals_of, _units
from ._ringgroups import _candidate_events, _components, _joiners, _merge_groups, _qualify


KIND = "collusion_ring"


#: diagnosis prefixes of scheduled therapy: dialysis (N18 CKD, Z49, Z99.2), rehabilitation (Z50),
#: chemotherapy cycles (C malignant neoplasms, Z51 sessions)
THERAPY_DIAGNOSES: tuple[str, ...] = ("N18", "Z49", "Z50", "Z51", "Z99.2", "C")


def _regular(days: np.ndarray) -> bool:
    """A therapy-like schedule: sessions every few days, or weekly on a fixed weekday."""
    if len(days) < 6:
        return False
    days = np.sort(days)
    if np.median(np.diff(days)) <= 4:
        return True
    weekday = np.bincount((days + 3) % 7, minlength=7)
    return bool(weekday.max() >= 0.8 * len(days))


def _fingerprint(members: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(members)).encode()).hexdigest()[:16]


def _evaluate(shared: _Shared, groups: list[list[str]], edges: pd.DataFrame, p: dict[str, Any]) -> list[Finding]:
    """Events, merged communities, ring metrics and scores; findings for rings ≥ ``min_score``."""
    store = shared.store
    cl = _member_claims(store, groups)
    activity = shared.activity()
    ev = _candidate_events(cl, np.array([len(g) for g in groups]), activity, p)
    sizes = np.array([len(g) for g in groups])
    label = _merge_groups(ev, len(groups), p["window_days"], comp=_components(edges, groups), sizes=sizes,
                          min_members=p["min_members"])
    if (label != np.arange(len(groups))).any():
        roots, label = np.unique(label, return_inverse=True)
        merged: list[list[str]] = [[] for _ in roots]
        for gi, g in enumerate(groups):
            merged[label[gi]].extend(g)
        groups = [sorted(g) for g in merged]
        cl = cl.assign(group=label[cl["group"].to_numpy()])
        ev = _candidate_events(cl, np.array([len(g) for g in groups]), activity, p)
    ev = _qualify(ev, np.array([len(g) for g in groups]), p)
    m = ev.groupby("group")["patient_id"].nunique()
    ev = ev[ev["group"].isin(m.index[m >= p["min_members"]])]
    joiners = _joiners(ev, cl, shared, activity, p)
    if joiners:
        # members the pair graph missed (admitted a day or two apart from each of the others) join
        # their ring; events and membership are recomputed with them
        moved = set().union(*joiners.values())
        groups = [sorted(set(grp) - moved) for grp in groups]
        to: dict[str, int] = {}
        for g, extra in joiners.items():
            groups[g] = sorted(set(groups[g]) | extra)
            to.update(dict.fromkeys(extra, g))
        # the claims already read are regrouped; only people new to every group are read
        known = set(cl["patient_id"])
        new = sorted(x for x in moved if x not in known)
        cl = cl.assign(group=cl["patient_id"].map(to).fillna(cl["group"]).astype(np.int64).to_numpy())
        if new:
            more = _member_claims(store, [new])
            cl = pd.concat([cl, more.assign(group=more["patient_id"].map(to).astype(np.int64))], ignore_index=True)
        ev = _candidate_events(cl, np.array([len(g) for g in groups]), activity, p)
        ev = _qualify(ev, np.array([len(g) for g in groups]), p)
        m = ev.groupby("group")["patient_id"].nunique()
        ev = ev[ev["group"].isin(m.index[m >= p["min_members"]])]
    if ev.empty:
        return []
    ev, tried = _focus_venues(ev, cl, activity, shared.context(), p)
    met = _metrics(ev, cl, edges, p)
    # ids: the same venues + organisers twice among the candidates get the smallest member added
    keys = {g: ("venues", *r.venues, "organisers", *sorted(r.organisers)) for g, r in met.iterrows()}
    count: dict[tuple, int] = {}
    for k in keys.values():
        count[k] = count.get(k, 0) + 1
    everyone = sorted({x for ms in met["members"] for x in ms})
    family, address = shared.relations(everyone)
    refs = _referrals_of(store, everyone)
    ctx = shared.context()
    # the multiple-testing count: the candidate groups tested here (the pair stage before has
    # tested every pair against its own bar: min_surprise, min_lift, min_synchrony)
    n_groups = max(len(met), 1)
    ev_at = ev.groupby("group").indices
    # what every ring's null and checks read, computed once for all rings
    nulls = RingNull(ev, cl, activity, ctx["profile"], p["window_days"], ctx["period"])
    per_all = ev.groupby("event").agg(group=("group", "first"), venue=("venue", "first"), mode=("mode", "first"),
                                      day=("day", "min"))
    events_of = pd.Series(np.arange(len(per_all))).groupby(per_all["group"].to_numpy()).indices
    per_all = per_all[["venue", "mode", "day"]]
    camp = _campaign(ev["diagnosis_code"])
    pool = _member_pool(ev, activity)
    findings = []
    for g, r in met.iterrows():
        per_event = per_all.iloc[events_of[g]]
        null = nulls.null(g, r.members)
        null["method"] = ("Poisson tail of the ring's events with >= k members vs the Poisson-binomial expectation of"
                          " independent members (own visit counts; admissions placed by the regional calendar),"
                          " Bonferroni over the member sets the venues' regulars allow and the candidate groups")
        null["n_tests"] = n_groups * int(tried.get(g, 1))
        null["venue_sets_tried"] = int(tried.get(g, 1))
        V = max(int(pool.get(g, 0)), int(r.m))
        null["member_pool"] = V
        null["log10_member_sets"] = float(_log10_comb(V, int(r.m)))
        at = ev_at[g]
        info = _final_factors(r, None, per_event, family, address, refs, p, ctx, null,
                              campaign_share=float(camp[at].mean()) if len(at) else 0.0)
        if info["score"] < p["min_score"]:
            continue
        rows = ev.iloc[at]
        key = keys[g] if count[keys[g]] == 1 else (*keys[g], "member", r.members[0])
        findings.append(_finding(key, {**r.to_dict(), **info, "rows": rows, "events": per_event}, p))
    return findings


def _sub_ring(rows: pd.DataFrame, p: dict[str, Any]) -> pd.DataFrame:
    """The ring ``rows`` (its event claims at one venue) would be there alone: members present at
    ≥ 2 of its events, events still holding two of them; empty unless ``min_co_visits`` events and
    ``min_members`` members remain.

    >>> ev = pd.DataFrame({"group": [0] * 6, "venue": ["h"] * 6, "mode": ["inpatient"] * 6,
    ...                    "event": [1, 1, 2, 2, 3, 3], "patient_id": list("abbcca")})
    >>> len(_sub_ring(ev, {"min_co_visits": 3, "min_members": 3}))
    6
    >>> len(_sub_ring(ev.iloc[:4], {"min_co_visits": 3, "min_members": 3}))
    0
    """
    while True:  # dropping a member can thin an event below two, and an event a member below two
        npres = rows.groupby("patient_id")["event"].transform("nunique").to_numpy()
        nmem = rows.groupby("event")["patient_id"].transform("nunique").to_numpy()
        ok = (npres >= 2) & (nmem >= 2)
        if ok.all():
            break
        rows = rows[ok]
    if rows["event"].nunique() < p["min_co_visits"] or rows["patient_id"].nunique() < p["min_members"]:
        return rows.iloc[:0]
    return rows


def _focus_venues(ev: pd.DataFrame, cl: pd.DataFrame, activity: pd.DataFrame, ctx: dict[str, Any],
                  p: dict[str, Any]) -> tuple[pd.DataFrame, dict[Any, int]]:
    """A ring held at several venues (or modes) is also judged at each venue alone (:func:`_sub_ring`);
    the most surprising of these candidates (its null plus its member-set term) stands for it.

    The ring's null pools its venues: their windows, their regulars and one threshold ``k``. A
    venue where the community only met by chance — a pharmacy where one member and a neighbour
    Louvain added buy medicine on the same days — dilutes a ring that is plain at its hospital
    alone. Where a venue alone wins, its members anchor the ring: it keeps the events where two
    of them met, at venues that qualify for them (a second hospital of the ring stays). Returns
    the events so restricted and, per multi-venue ring, the number of candidates tried (its
    Bonferroni factor: the choice was made after seeing the data).
    """
    keys = ev[["group", "venue", "mode"]].drop_duplicates()
    multi = keys.groupby("group").size()
    multi = multi.index[multi.to_numpy() >= 2]
    if not len(multi):
        return ev, {}
    # candidates: each multi-venue ring whole (its own group id) and at each venue alone (new group
    # and event ids, so that one null serves them all); the index is the row of ``ev``
    ev = ev.reset_index(drop=True)
    cands, cls, owner = [], [], {}
    first = nxt = int(ev["group"].max()) + 1
    step = int(ev["event"].max()) + 1
    for g in multi:
        at = ev["group"].to_numpy() == g
        rows = ev[at]
        mine = cl[cl["group"].to_numpy() == g]
        owner[g] = (g, False)
        cands.append(rows)
        cls.append(mine)
        for _, sub in rows.groupby(["venue", "mode"], sort=True):
            sub = _sub_ring(sub, p)
            if sub.empty:
                continue
            owner[nxt] = (g, True)
            cands.append(sub.assign(group=nxt, event=sub["event"] + step * (nxt - first + 1)))
            cls.append(mine.assign(group=nxt))
            nxt += 1
    alt = pd.concat(cands, ignore_index=True)
    nulls = RingNull(alt, pd.concat(cls, ignore_index=True), activity, ctx["profile"], p["window_days"],
                     ctx["period"])
    pool = _member_pool(alt, activity)
    members = alt.groupby("group")["patient_id"].unique()
    best: dict[Any, tuple[float, Any]] = {}
    tried: dict[Any, int] = {}
    for c, (g, _) in owner.items():
        ms = sorted(members[c])
        lp = nulls.null(c, ms)["log10_p"] + _log10_comb(max(int(pool.get(c, 0)), len(ms)), len(ms))
        tried[g] = tried.get(g, 0) + 1
        if g not in best or lp < best[g][0]:
            best[g] = (lp, c)
    keep = np.ones(len(ev), dtype=bool)
    for g, (_, c) in best.items():
        if not owner[c][1]:
            continue
        # the best venue's members anchor the ring; it keeps every event where two of them met,
        # at venues that qualify for them (≥ 2 such events, or one with half of them): a second
        # hospital of the ring stays, the chance venue of one member and an outsider goes
        anchor = set(members[c])
        at = ev["group"].to_numpy() == g
        rows = ev[at]
        rows = rows.assign(anchor=rows["patient_id"].where(rows["patient_id"].isin(anchor)))
        rows = rows[rows.groupby("event")["anchor"].transform("nunique").to_numpy() >= 2]
        n_in = rows.groupby("event")["anchor"].transform("nunique")
        per_venue = [rows["venue"], rows["mode"]]
        rows = rows[(rows.groupby(per_venue)["event"].transform("nunique").to_numpy() >= 2)
                    | (n_in.groupby(per_venue).transform("max").to_numpy() >= 0.5 * len(anchor))]
        rows = _sub_ring(rows, p)  # holds at least the venue's own sub-ring
        keep[at] = False
        keep[rows.index.to_numpy(np.int64)] = True
    ev = ev[keep]
    return ev, {g: n for g, n in tried.items() if n > 1}


def _log10_comb(n: int, k: int) -> float:
    """``log10 C(n, k)``.

    >>> round(_log10_comb(64, 4), 3)
    5.803
    """
    from scipy.special import gammaln

    return float((gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)) / np.log(10)) if 0 <= k <= n else 0.0


def _member_pool(ev: pd.DataFrame, activity: pd.DataFrame) -> pd.Series:
    """Per group: the people its members could have been drawn from — the regulars (≥ 2 distinct
    days) of each of its venues in the mode of its events there, summed over them."""
    act = activity.assign(venue=activity["provider_type"].astype(str) + ":" + activity["provider_id"].astype(str))
    reg = act.set_index(["venue", "mode"])["regulars"]
    vm = ev[["group", "venue", "mode"]].drop_duplicates()
    n = reg.reindex(pd.MultiIndex.from_arrays([vm["venue"], vm["mode"]])).fillna(0).to_numpy(float)
    return pd.Series(n).groupby(vm["group"].to_numpy()).sum()


def _joint_discharge(ev: pd.DataFrame, window: int) -> pd.Series:
    """Per group: share of its admission events (≥ 2 people) whose discharge days agree
    (half the people within ``max(window, 1)`` days of the event's median discharge)."""
    inp = ev[(ev["mode"] == "inpatient").to_numpy() & ev["end_day"].notna().to_numpy()]
    if inp.empty:
        return pd.Series(dtype=float)
    med = inp.groupby("event")["end_day"].transform("median")
    ok = ((inp["end_day"] - med).abs() <= max(window, 1)).astype(float)
    pe = pd.DataFrame({"event": inp["event"], "group": inp["group"], "ok": ok}).groupby("event").agg(
        group=("group", "first"), k=("ok", "size"), share=("ok", "mean"))
    pe = pe[pe["k"] >= 2]
    return (pe["share"] >= 0.5).astype(float).groupby(pe["group"]).mean()


def _organisers(ev: pd.DataFrame, index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """Per group: organiser doctors — those with ≥ 15 % of its claims (at most 3), else the
    busiest one — and the share of its claims they hold."""
    rows_n = ev.groupby("group").size()
    d = ev[ev["doctor_id"].notna()].groupby(["group", "doctor_id"]).size().rename("c").reset_index()
    d = d.sort_values(["group", "c", "doctor_id"], ascending=[True, False, True], kind="stable")
    d["rank"] = d.groupby("group").cumcount()
    d["share"] = d["c"] / d["group"].map(rows_n)
    sel = (d["share"] >= 0.15) & (d["rank"] < 3)
    has = sel.groupby(d["group"]).transform("any")
    org = d[sel | (~has & (d["rank"] == 0))]
    names = org.groupby("group")["doctor_id"].apply(list).reindex(index)
    names = names.map(lambda x: x if isinstance(x, list) else [])
    return names, org.groupby("group")["share"].sum().reindex(index).fillna(0.0)


def _campaign(diagnosis: pd.Series) -> np.ndarray:
    """Per claim: an examination, screening or vaccination code (``health_check_campaign``)."""
    diag = diagnosis.fillna("").astype(str).str.upper().str.strip()
    return diag.str.startswith(CAMPAIGN_DIAGNOSES).to_numpy(bool)


def _overlap(a: set, b: set) -> bool:
    """Two memberships are one ring when they share half the smaller one."""
    return len(a & b) >= 0.5 * min(len(a), len(b))


def _metrics(ev: pd.DataFrame, cl: pd.DataFrame, edges: pd.DataFrame, p: dict[str, Any]) -> pd.DataFrame:
    """Per candidate ring (group), vectorised: the strength and the factors known from its
    events; ``z0 = strength × factor0`` bounds the score from above."""
    g = ev["group"]
    per_event = ev.groupby("event").agg(group=("group", "first"), n=("patient_id", "nunique"))
    out = pd.DataFrame({"n_events": per_event.groupby("group").size()})
    out["m"] = ev.groupby("group")["patient_id"].nunique()
    out["members"] = ev.groupby("group")["patient_id"].unique().map(lambda a: sorted(a))
    out["venues"] = ev.groupby("group")["venue"].unique().map(lambda a: sorted(a))
    out["density"] = per_event.groupby("group")["n"].sum() / (out["m"] * out["n_events"])
    evc = ev.drop_duplicates(["group", "claim_id"])
    out["ring_claims"] = evc.groupby("group").size()
    out["fund"] = evc.groupby("group")["fund_amount"].sum()
    out["inpatient_share"] = (ev["mode"] == "inpatient").groupby(g).mean()
    out["pharmacy_share"] = (ev["provider_type"] == "pharmacy").groupby(g).mean()
    vl = ev.drop_duplicates(["group", "venue", "mode"]).groupby("group")[["obs", "expected"]].sum()
    out["lift"] = vl["obs"] / vl["expected"].clip(lower=1e-9)
    # synchrony (ring claims / all the members' claims at the ring's venues) and camouflage
    mem = ev[["group", "patient_id"]].drop_duplicates()
    mine = cl.merge(mem, on=["group", "patient_id"]).drop_duplicates(["group", "claim_id"])
    at = mine.merge(ev[["group", "venue"]].drop_duplicates(), on=["group", "venue"])
    out["synchrony"] = (out["ring_claims"] / at.groupby("group").size()).fillna(1.0).clip(upper=1.0)
    out["camouflage"] = 1.0 - out["ring_claims"] / mine.groupby("group").size()
    out["joint_discharge"] = _joint_discharge(ev, p["window_days"]).reindex(out.index).fillna(0.0)
    out["organisers"], out["org_conc"] = _organisers(ev, out.index)
    # lock-step within the day: ambulatory events whose members settled within 3 hours
    amb = ev[ev["mode"] == "ambulatory"]
    ts = pd.Series(1.0, index=out.index)
    if len(amb):
        first = amb.groupby(["event", "patient_id"])["start_time"].min().groupby(level=0)
        spread = (first.max() - first.min()).dt.total_seconds() / 3600.0
        eg = amb.groupby("event")["group"].first()
        ts.update((spread <= 3.0).astype(float).groupby(eg).mean())
    out["time_sync"] = ts
    diag = pd.Series(ev["diagnosis_code"].to_numpy(object), dtype=object).fillna("")
    out["therapy_diag"] = pd.Series(diag.str.startswith(THERAPY_DIAGNOSES).to_numpy(float)).groupby(g.to_numpy()).mean()
    # pair lift over the ring's own edges
    pg = ev.drop_duplicates("patient_id").set_index("patient_id")["group"]
    ga, gb = edges["a"].map(pg), edges["b"].map(pg)
    same = (ga == gb).fillna(False).to_numpy(bool)
    es = edges[same].assign(group=ga[same].to_numpy())
    pl = es.groupby("group")["obs"].sum() / es.groupby("group")["exp"].sum().clip(lower=1e-9)
    out["pair_lift"] = pl.reindex(out.index).fillna(1.0)
    return out


def _final_factors(r: pd.Series, rows: pd.DataFrame | None, per_event: pd.DataFrame, family, address,
                   refs: dict[str, set[str]], p: dict[str, Any], ctx: dict[str, Any], null: dict[str, Any],
                   campaign_share: float | None = None) -> dict[str, Any]:
    """Relatedness, therapy schedule and referrals of one ring, its benign checks and its score
    ``surprise_score(surprise) × benign factor`` (see :mod:`._ringnull`). ``rows`` (the ring's event
    claims) may be None when ``campaign_share`` is given."""
    members, m = r.members, int(r.m)
    # how few independent households the group is: 1 - (units-1)/(m-1), units = components of
    # the registered-family and shared-address links among the members
    related_share = 1.0 - (_units(members, family, address) - 1) / max(m - 1, 1)
    regular = 0
    at: dict[tuple[str, str], list[int]] = {}
    for v, md, d in zip(per_event["venue"].to_numpy(object), per_event["mode"].to_numpy(object),
                        per_event["day"].to_numpy(np.int64)):
        at.setdefault((v, md), []).append(d)
    for days in at.values():
        if _regular(np.array(days, dtype=np.int64)):
            regular += len(days)
    regular_share = regular / max(len(per_event), 1)
    # a cohort referred into the venue (down-referral to rehab) follows a documented care pathway
    vids = {v.split(":", 1)[1] for v in r.venues if v.startswith("institution:")}
    referred_share = sum(1 for x in set(members) if refs.get(x, set()) & vids) / m
    therapy_share = max(r.therapy_diag, regular_share * (1.0 - r.inpatient_share), referred_share)
    detail = (f"therapy codes on {r.therapy_diag:.0%} of the claims, regular ambulatory schedule on "
              f"{regular_share:.0%} of the events, {referred_share:.0%} of the members referred into the venue")
    # member selection: the ring's members were picked from its venues' regulars after seeing the
    # events, so the tail is judged against every member set of that size those regulars allow
    sel = float(null.get("log10_member_sets", 0.0))
    s_u = float(surprise(null["log10_p_uniform"] + sel, null["n_tests"]))
    s_a = float(surprise(null["log10_p"] + sel, null["n_tests"]))
    hub = any(v.split(":", 1)[1] in ctx["hubs"] for v in r.venues if v.startswith("institution:"))
    checks = ring_checks(r, rows, per_event, related_share=related_share, therapy_share=therapy_share,
                         therapy_detail=detail, null=null, surprise_u=s_u, surprise_a=s_a, hub=hub,
                         dates_only=ctx["dates_only"], w=p["benign_weight"], campaign_share=campaign_share)
    score = min(float(surprise_score(s_a)) * benign_factor(checks), 0.999999)
    null = {**null, "surprise": round(s_a, 4), "surprise_uniform_calendar": round(s_u, 4)}
    return {"related_share": related_share, "therapy_share": therapy_share, "referred_share": referred_share,
            "benign_checks": checks, "null": null, "score": score}


def _finding(key: tuple[str, ...], r: dict[str, Any], p: dict[str, Any]) -> Finding:
    rows, per_event = r["rows"], r["events"]
    members, organisers, venues = r["members"], r["organisers"], r["venues"]
    ents = [Entity("patient", x, "member") for x in members]
    ents += [Entity("doctor", d, "organiser") for d in organisers]
    ents += [Entity(v.split(":", 1)[0], v.split(":", 1)[1], "venue") for v in venues]
    days = []
    for ev_id, er in rows.groupby("event", sort=False):
        pe = per_event.loc[ev_id]
        days.append({
            "date": str(np.datetime64(int(pe["day"]), "D")),
            "provider": pe["venue"].split(":", 1)[1],
            "provider_type": pe["venue"].split(":", 1)[0],
            "mode": pe["mode"],
            "members": sorted(er["patient_id"].astype(str).unique()),
            "doctors": sorted(er["doctor_id"].dropna().astype(str).unique()),
            "claims": int(er["claim_id"].nunique()),
        })
    days.sort(key=lambda x: (x["date"], x["provider"], x["mode"]))
    n_adm = int((per_event["mode"] == "inpatient").sum())
    n_amb = len(per_event) - n_adm
    v0 = venues[0].split(":", 1)[1]
    more_v = f"等{len(venues)}家机构" if len(venues) > 1 else ""
    more_v_en = f" (+{len(venues) - 1} more venue(s))" if len(venues) > 1 else ""
    doc_zh = f"由{organisers[0]}等{len(organisers)}名医师" if organisers else ""
    doc_en = f" under {len(organisers)} doctor(s) ({', '.join(organisers)})" if organisers else ""
    dense = r.get("method") == "dense_block"
    if dense:
        per = r["visits"] / max(len(members), 1)
        what_zh = f"反复住院{r['visits']}次（人均{per:.1f}次）"
        what_en = f"admitted {r['visits']} times ({per:.1f} each)"
    elif n_adm >= n_amb:
        what_zh, what_en = f"集中收治住院{n_adm}次", f"admitted together {n_adm} times"
    else:
        what_zh, what_en = f"结伴就诊/购药{n_amb}次", f"settled together {n_amb} times (outpatient/pharmacy)"
    fund = r["fund"]
    if dense:
        chance_zh, chance_en = f"多次住院者为随机预期的{r['lift']:.0f}倍", f"{r['lift']:.0f}× the expected number of repeat patients"
    else:
        chance_zh, chance_en = f"高于随机预期{r['lift']:.0f}倍", f"{r['lift']:.0f}× chance"
    summary = (
        f"{len(members)}名参保人在{v0}{more_v}{doc_zh}{what_zh}，基金{yuan(fund)}（{chance_zh}）"
        f" / {len(members)} people {what_en} at {v0}{more_v_en}{doc_en}, fund {fund:,.2f} yuan"
        f" ({chance_en})"
    )
    return Finding.create(
        KIND,
        key=key,
        score=r["score"],
        amount_at_risk=fund,
        start=rows["start_time"].min(),
        end=max(rows["end_time"].max() if rows["end_time"].notna().any() else rows["start_time"].max(),
                rows["start_time"].max()),
        entities=ents,
        claims=rows["claim_id"].astype(str),
        summary=summary,
        evidence={
            "method": r.get("method", "lockstep"),
            "members": members,
            "fingerprint": _fingerprint(members),
            "member_count": len(members),
            "organisers": organisers,
            "venues": [v.split(":", 1)[1] for v in venues],
            "co_visit_days": days,
            "events": len(per_event),
            "admission_events": n_adm,
            "ambulatory_events": n_amb,
            "density": r["density"],
            "lift": r["lift"],
            "pair_lift": r["pair_lift"],
            "synchrony": r["synchrony"],
            "camouflage_share": r["camouflage"],
            "inpatient_share": r["inpatient_share"],
            "joint_discharge_share": r["joint_discharge"],
            "same_hours_share": r["time_sync"],
            "pharmacy_share": r["pharmacy_share"],
            "organiser_share": r["org_conc"],
            "related_share": r["related_share"],
            "therapy_share": r["therapy_share"],
            "referred_share": r["referred_share"],
            "fund": fund,
            "null": r["null"],
            "benign_checks": r["benign_checks"],
            **({"block": r["block"]} if dense else {}),
        },
    )
