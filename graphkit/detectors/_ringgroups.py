"""``collusion_ring``, stage 2 — from the pair graph to candidate rings: Louvain communities of
the connected components (:func:`_communities`), co-visit events of each community's claims
(:func:`_events`), venues whose joint presences beat chance (:func:`_venue_lift`,
:func:`_candidate_events`, :func:`_qualify`), the pooling of communities that share their
episodes or are too small to stand alone (:func:`_merge_groups`), and the joiners — people
outside a ring who attend its events more often than the venues' regulars would by chance
(:func:`_joiners`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from ._ringpairs import _runs, _schedule, _uniq
from ._ringcontext import _Shared, admission_days


def _communities(edges: pd.DataFrame, *, min_members: int, resolution: float, seed: int) -> list[list[str]]:
    """Connected components (≥ ``min_members``) of the filtered pair graph, cut by Louvain into
    communities of ≥ 2 people (``min_members`` applies again after parts are merged)."""
    import networkx as nx

    if edges.empty:
        return []
    ids, inv = np.unique(np.concatenate([edges["a"].to_numpy(object), edges["b"].to_numpy(object)]).astype(str),
                         return_inverse=True)
    ne = len(edges)
    ia, ib = inv[:ne], inv[ne:]
    g = sparse.coo_matrix((np.ones(ne), (ia, ib)), shape=(len(ids), len(ids)))
    ncomp, lab = connected_components(g, directed=False)
    sizes = np.bincount(lab, minlength=ncomp)
    w = edges["weight"].to_numpy(float)
    groups: list[list[str]] = []
    order = np.argsort(lab[ia], kind="stable")  # edges by component
    estart = np.searchsorted(lab[ia][order], np.arange(ncomp))
    eend = np.searchsorted(lab[ia][order], np.arange(ncomp), side="right")
    norder = np.argsort(lab, kind="stable")  # nodes by component
    nstart = np.searchsorted(lab[norder], np.arange(ncomp))
    for comp in np.flatnonzero(sizes >= min_members):
        nodes = sorted(ids[norder[nstart[comp]:nstart[comp] + sizes[comp]]].tolist())
        if sizes[comp] <= min_members:
            groups.append(nodes)
            continue
        sel = order[estart[comp]:eend[comp]]
        G = nx.Graph()
        G.add_nodes_from(nodes)
        trip = sorted(zip(ids[ia[sel]].tolist(), ids[ib[sel]].tolist(), w[sel].tolist()))
        G.add_weighted_edges_from(trip)
        for c in nx.community.louvain_communities(G, weight="weight", resolution=resolution, seed=seed):
            if len(c) >= 2:  # a small part of a cut ring can rejoin it when events are merged
                groups.append(sorted(c))
    return sorted(groups)


def _ordinal(x: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of ``x`` that sort as ``sort_values`` sorts it (missing last), and where
    ``x`` is missing.

    >>> code, missing = _ordinal(pd.Series(["b", None, "a", "b"], dtype=object))
    >>> code.tolist(), missing.tolist()
    ([1, 2, 0, 1], [False, True, False, False])
    """
    codes, uniq = pd.factorize(x.to_numpy(), sort=True)
    codes = codes.astype(np.int64)
    missing = codes < 0
    codes[missing] = len(uniq)
    return codes, missing


def _events(cl: pd.DataFrame, window: int) -> pd.DataFrame:
    """Cluster member claims into co-visit events per (group, provider, mode).

    Admissions chain while consecutive days are at most ``window`` apart; a chain spanning
    more than ``2·window + 1`` days (a hub admitting people one after another, or two groups
    admitted a few days apart) is cut greedily into spans of ``2·window + 1`` days. Ambulatory
    events are single days. The rows come sorted by group, venue, mode, day, patient and claim.
    """
    c = _coded_events(cl, window)
    return cl.take(c["order"]).assign(event=c["event"])


def _sort_order(cl: pd.DataFrame, keys: list[np.ndarray]) -> np.ndarray:
    """The stable order of ``cl.sort_values([group, venue, mode, day, patient_id, claim_id])``
    from integer codes ``keys`` of the first five (codes sort as the values): rows equal on all
    five (a person's claims at one venue on one day) are ranked by claim id among themselves."""
    top = [int(k.max()) + 1 if len(k) else 1 for k in keys]
    lo = [int(k.min()) if len(k) else 0 for k in keys]
    width = [t - m for t, m in zip(top, lo)]
    if float(np.prod([float(w) for w in width])) < 2.0 ** 62:
        key = np.zeros(len(cl), np.int64)
        for k, m, w in zip(keys, lo, width):
            key = key * np.int64(w) + (k - m)
        order = np.argsort(key, kind="stable")
        ks = key[order]
        eq = ks[1:] == ks[:-1]
    else:
        order = np.lexsort(keys[::-1])
        eq = np.ones(max(len(cl) - 1, 0), bool)
        for k in keys:
            xs = k[order]
            eq &= xs[1:] == xs[:-1]
    if eq.any():
        pos = np.flatnonzero(np.r_[eq, False] | np.r_[False, eq])
        run = np.cumsum(np.r_[True, ~eq])[pos]
        sub = order[pos]
        order[pos] = sub[np.lexsort((_ordinal(cl["claim_id"].iloc[sub])[0], run))]
    return order


def _coded_events(cl: pd.DataFrame, window: int) -> dict[str, np.ndarray]:
    """:func:`_events` without building its frame: the sort ``order`` of the rows of ``cl`` and,
    per sorted row, its ``event`` and the integer codes of ``group``, ``venue``, ``mode``
    (codes sort as the values), ``patient``, ``day``; ``inpatient`` and ``venue_missing``."""
    g = cl["group"].to_numpy(np.int64)
    vcode, vmiss = _ordinal(cl["venue"])
    mode = cl["mode"].to_numpy(object)
    inpatient = mode == "inpatient"
    if (inpatient | (mode == "ambulatory")).all():
        mcode = inpatient.astype(np.int64)  # "ambulatory" < "inpatient"
    else:
        mcode = _ordinal(cl["mode"])[0]
    pcode = _ordinal(cl["patient_id"])[0]
    day = cl["day"].to_numpy(np.int64)
    order = _sort_order(cl, [g, vcode, mcode, day, pcode])
    g, vcode, mcode, pcode, day = g[order], vcode[order], mcode[order], pcode[order], day[order]
    inpatient, vmiss = inpatient[order], vmiss[order]
    gap = np.where(inpatient, window, 0)
    new = np.ones(len(cl), bool)
    if len(cl) > 1:
        same = (g[1:] == g[:-1]) & (vcode[1:] == vcode[:-1]) & (mcode[1:] == mcode[:-1])
        same &= ~vmiss[1:]  # a missing venue is never the same (NaN != NaN)
        new[1:] = ~same | (day[1:] - day[:-1] > gap[1:])
        starts = np.flatnonzero(new)
        ends = np.r_[starts[1:], len(cl)]
        span = np.maximum.reduceat(day, starts) - np.minimum.reduceat(day, starts) + 1
        for s0, s1 in zip(starts[span > 2 * window + 1], ends[span > 2 * window + 1]):
            first = day[s0]
            for i in range(s0 + 1, s1):
                if day[i] - first > 2 * window:
                    new[i] = True
                    first = day[i]
    return {"order": order, "event": np.cumsum(new) - 1, "group": g, "venue": vcode, "mode": mcode,
            "patient": pcode, "day": day, "inpatient": inpatient, "venue_missing": vmiss}


def _venue_lift(ev: pd.DataFrame, activity: pd.DataFrame, window: int) -> pd.DataFrame:
    """Per (group, venue, mode): joint presences of member pairs vs. chance.

    Observed ``J = Σ_events C(k, 2)`` (k = members present); expected, with member ``i``
    present on ``n_i`` days of a venue open ``D`` days (the observation period for admissions),
    ``Σ_{i<j} n_i n_j (2w+1)/D``. A crowded hub makes members meet by chance too; a ring
    venue does not. (:func:`_candidate_events` computes the same per row.)
    """
    keys = ["group", "venue", "mode"]
    k = ev.groupby("event").agg(group=("group", "first"), venue=("venue", "first"), mode=("mode", "first"),
                                k=("patient_id", "nunique"))
    obs = k.assign(j=k["k"] * (k["k"] - 1) / 2).groupby(keys)["j"].sum()
    n = ev.groupby([*keys, "patient_id"])["day"].nunique().astype(float)
    s1 = n.groupby(level=[0, 1, 2]).sum()
    s2 = (n ** 2).groupby(level=[0, 1, 2]).sum()
    out = pd.DataFrame({"obs": obs.reindex(s1.index).fillna(0.0), "s1": s1, "s2": s2}).reset_index()
    d = _venue_days(activity, out["venue"].to_numpy(object), out["mode"].to_numpy(object))
    width = np.where(out["mode"] == "inpatient", 2 * window + 1, 1)
    f = np.minimum(width / np.nan_to_num(d, nan=365.0), 1.0)
    out["expected"] = f * (out["s1"] ** 2 - out["s2"]) / 2
    out["venue_lift"] = out["obs"] / np.maximum(out["expected"], 1e-9)
    return out[[*keys, "obs", "expected", "venue_lift"]]


def _venue_days(activity: pd.DataFrame, venue: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """Days ``D`` of each (venue, mode): the observation period for admissions, the unit's
    schedule for ambulatory care (NaN when the unit is not in ``activity``)."""
    act = activity.assign(venue=activity["provider_type"].astype(str) + ":" + activity["provider_id"].astype(str))
    adm = act[act["mode"] == "inpatient"]
    period = float(max(adm["last_day"].max() - adm["first_day"].min() + 1, 28)) if len(adm) else 365.0
    act = act.assign(D=np.where(act["mode"] == "inpatient", period, np.maximum(_schedule(act), 1.0)))
    D = act.set_index(["venue", "mode"])["D"]
    return D.reindex(pd.MultiIndex.from_arrays([venue, mode])).to_numpy(float)


def _row_venue_lift(cl: pd.DataFrame, c: dict[str, np.ndarray], activity: pd.DataFrame,
                    window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_venue_lift` per sorted row of :func:`_coded_events` (codes ``c`` of ``cl``), and the
    members present at each row's event: (obs, expected, venue_lift, k)."""
    n_rows = len(c["order"])
    if n_rows == 0:
        z = np.empty(0)
        return z, z, z, np.empty(0, np.int64)
    # (group, venue, mode) units are runs of the sorted rows; events are runs inside them
    brk = np.ones(n_rows, bool)
    brk[1:] = (c["group"][1:] != c["group"][:-1]) | (c["venue"][1:] != c["venue"][:-1]) \
        | (c["mode"][1:] != c["mode"][:-1])
    unit = np.cumsum(brk) - 1
    n_units = int(unit[-1]) + 1
    NP = np.int64(int(c["patient"].max()) + 1)
    # members present per event (k), observed pairs J = Σ C(k, 2) per unit
    ev_id = c["event"]
    k = np.bincount(_uniq(ev_id * NP + c["patient"]) // NP, minlength=int(ev_id[-1]) + 1).astype(np.int64)
    ev_start = np.flatnonzero(np.r_[True, ev_id[1:] != ev_id[:-1]])
    j = (k * (k - 1) / 2)[ev_id[ev_start]]
    obs = np.bincount(unit[ev_start], weights=j, minlength=n_units)
    # distinct days of each member per unit: n_i; s1 = Σ n_i, s2 = Σ n_i²
    d0 = int(c["day"].min())
    span = np.int64(int(c["day"].max()) - d0 + 1)
    up, nd, _ = _runs(_uniq((unit * NP + c["patient"]) * span + (c["day"] - d0)) // span)
    nd = nd.astype(float)
    s1 = np.bincount(up // NP, weights=nd, minlength=n_units)
    s2 = np.bincount(up // NP, weights=nd ** 2, minlength=n_units)
    first = c["order"][np.flatnonzero(brk)]
    d = _venue_days(activity, cl["venue"].to_numpy(object)[first], cl["mode"].to_numpy(object)[first])
    width = np.where(c["inpatient"][brk], 2 * window + 1, 1)
    f = np.minimum(width / np.nan_to_num(d, nan=365.0), 1.0)
    expected = f * (s1 ** 2 - s2) / 2
    lift = obs / np.maximum(expected, 1e-9)
    # rows without a venue belong to no unit (a group-by drops missing keys): no lift
    na = c["venue_missing"][brk]
    obs[na], expected[na], lift[na] = np.nan, np.nan, np.nan
    return obs[unit], expected[unit], lift[unit], k[ev_id]


def _candidate_events(cl: pd.DataFrame, sizes: np.ndarray, activity: pd.DataFrame, p: dict[str, Any]) -> pd.DataFrame:
    """Claims of events with a quarter of their community (≥ 2) at venues beyond chance."""
    c = _coded_events(cl, p["window_days"])
    obs, expected, lift, nmem = _row_venue_lift(cl, c, activity, p["window_days"])
    need = np.maximum(2, np.ceil(0.25 * sizes)).astype(int)
    ok = nmem >= need[c["group"]]
    # only the rows kept are taken from the claims (the sorted frame is never built whole)
    ev = cl.take(c["order"][ok]).reset_index(drop=True)
    ev = ev.assign(event=c["event"][ok], obs=obs[ok], expected=expected[ok], venue_lift=lift[ok])
    return ev[ev["venue_lift"].to_numpy(float) >= p["min_lift"]]


def _qualify(ev: pd.DataFrame, sizes: np.ndarray, p: dict[str, Any]) -> pd.DataFrame:
    """Venues with ≥ 2 events (or one event with half the group: a two-venue ring may hold a
    single episode at its second hospital), rings with ``min_co_visits`` events over their
    venues, members present at ≥ 2 events."""
    keys = ["group", "venue", "mode"]
    ev_per_venue = ev.groupby(keys)["event"].transform("nunique").to_numpy()
    nmem = ev.groupby("event")["patient_id"].transform("nunique")
    biggest = nmem.groupby([ev[k] for k in keys]).transform("max").to_numpy()
    ev = ev[(ev_per_venue >= 2) | (biggest >= 0.5 * sizes[ev["group"].to_numpy()])]
    per_group = ev.groupby("group")["event"].transform("nunique")
    ev = ev[per_group.to_numpy() >= p["min_co_visits"]]
    npres = ev.groupby(["group", "patient_id"])["event"].transform("nunique")
    return ev[npres.to_numpy() >= 2]


def _merge_groups(ev: pd.DataFrame, n_groups: int, window: int, comp: np.ndarray | None = None,
                  sizes: np.ndarray | None = None, min_members: int = 3) -> np.ndarray:
    """Label per community: communities are united when half the candidate events of one meet
    events of the other (same venue and mode, days within ``window``). Louvain may cut a ring
    whose members attend in turns; its parts then share their episodes."""
    parent = np.arange(n_groups)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return int(i)

    if len(ev):
        evs = ev.groupby("event").agg(group=("group", "first"), venue=("venue", "first"), mode=("mode", "first"),
                                      lo=("day", "min"), hi=("day", "max")).reset_index()
        n_ev = evs.groupby("group").size()
        # pairs of events at one venue whose day ranges (widened by the window) overlap: a range
        # join on lo_y ∈ [lo_x − gap − longest event, hi_x + gap], then the exact test
        code = _venue_codes(evs)[0]
        lo, hi = evs["lo"].to_numpy(np.int64), evs["hi"].to_numpy(np.int64)
        g = np.where(evs["mode"].to_numpy(object) == "inpatient", window, 0).astype(np.int64)
        longest = int((hi - lo).max())
        xi, yi = _range_pairs(code, lo - g - longest, hi + g, code, lo)
        gx = evs["group"].to_numpy()
        keep = (gx[xi] < gx[yi]) & (lo[xi] <= hi[yi] + g[xi])
        xi, yi = xi[keep], yi[keep]
        both = pd.DataFrame({"group_x": gx[xi], "group_y": gx[yi], "event_x": evs["event"].to_numpy()[xi],
                             "event_y": evs["event"].to_numpy()[yi]})
        if len(both):
            shared = pd.concat([
                both.groupby(["group_x", "group_y"])["event_x"].nunique().rename("sx"),
                both.groupby(["group_x", "group_y"])["event_y"].nunique().rename("sy"),
            ], axis=1)
            for (x, y), row in shared.iterrows():
                if max(row["sx"] / n_ev[x], row["sy"] / n_ev[y]) >= 0.5:
                    parent[find(int(y))] = find(int(x))
        if comp is not None and sizes is not None:
            # Louvain cuts a thin ring (a path of pairs, each pair together twice) into pairs that
            # hold none of each other's events: a part too small to be a ring rejoins the parts of
            # its connected component that meet at one of its venues
            vm = evs[["group", "venue", "mode"]].drop_duplicates()
            vm = vm.assign(comp=np.asarray(comp)[vm["group"].to_numpy()])
            vm = vm.assign(small=np.asarray(sizes)[vm["group"].to_numpy()] < min_members)
            for _, grp in vm.groupby(["comp", "venue", "mode"], sort=True):
                gs = sorted(set(grp["group"].tolist()))
                if len(gs) > 1 and grp["small"].any():
                    small = sorted(set(grp.loc[grp["small"], "group"].tolist()))
                    big = [g for g in gs if g not in small]
                    # small parts join each other, and the largest part there when there is one
                    anchor = find(int(max(big, key=lambda g: sizes[g]) if big else small[0]))
                    for g in small:
                        parent[find(int(g))] = anchor
    return np.array([find(i) for i in range(n_groups)])


def _joiners(ev: pd.DataFrame, cl: pd.DataFrame, shared: _Shared, activity: pd.DataFrame,
             p: dict[str, Any]) -> dict[int, set[str]]:
    """People outside a ring present at ≥ 2 of its events more often than chance allows: per
    group, who joins it.

    Candidates: for admission events everyone admitted at the venue within ±window of the
    event's days; for ambulatory events the people of the other candidate groups (the pair graph
    linked them, Louvain put them elsewhere). A person with ``n_v`` days at venue ``v`` expects
    ``λ = Σ_v n_v · c_v / D_v`` hits (``c_v``: days the ring's event windows cover there, ``D_v``:
    the observation period for admissions, the venue's schedule for ambulatory care); they join
    when the expected number of the venues' regulars hitting as many events by chance (regulars ×
    Poisson tail) is below one. Lock-step pairs need two joint days; a member admitted a day or two
    from each of the others (staggered admissions), or pulled by Louvain towards a companion,
    has none with the ring, yet attends its events.
    """
    from scipy.stats import poisson

    w = int(p["window_days"])
    if ev.empty:
        return {}
    evs = ev.groupby("event").agg(group=("group", "first"), venue=("venue", "first"), mode=("mode", "first"),
                                  lo=("day", "min"), hi=("day", "max")).reset_index()
    evs["w"] = np.where(evs["mode"] == "inpatient", w, 0)
    frames = []
    inst = evs.loc[(evs["mode"] == "inpatient") & evs["venue"].str.startswith("institution:"), "venue"]
    if len(inst):
        adm = shared.adm()
        ids = set(inst.str.split(":", n=1).str[1])
        d = admission_days(adm[adm["institution_id"].astype(str).isin(ids)])
        frames.append(pd.DataFrame({"venue": "institution:" + d["institution_id"], "mode": "inpatient",
                                    "patient_id": d["patient_id"], "day": d["day"]}))
    amb = cl[(cl["mode"] == "ambulatory").to_numpy(bool) & cl["venue"].isin(set(evs.loc[evs["mode"] == "ambulatory", "venue"])).to_numpy(bool)]
    if len(amb):
        frames.append(amb[["venue", "mode", "patient_id", "day"]].drop_duplicates())
    if not frames:
        return {}
    days = pd.concat(frames, ignore_index=True)
    hit = _in_windows(evs, days)
    h = hit.groupby(["group", "patient_id"])["event"].nunique()
    # a member of another candidate ring may move here only when they attend more events here
    own = ev.groupby("patient_id")["event"].nunique()
    own_group = ev.groupby("patient_id")["group"].first()
    pid = h.index.get_level_values(1)
    og = own_group.reindex(pid).to_numpy()
    h = h[(h.to_numpy() >= 2) & (og != h.index.get_level_values(0).to_numpy())
          & (h.to_numpy() > own.reindex(pid).fillna(0).to_numpy())]
    if h.empty:
        return {}
    act = activity.assign(venue=activity["provider_type"].astype(str) + ":" + activity["provider_id"].astype(str))
    period = max(float(shared.context()["period"]), 1.0)
    act = act.assign(D=np.where(act["mode"] == "inpatient", period, np.maximum(_schedule(act), 1.0)))
    act = act.set_index(["venue", "mode"])
    # per (group, venue, mode): the days its event windows cover, the chance rate and the regulars
    gv = evs[evs["group"].isin(set(h.index.get_level_values(0)))]
    span = gv["hi"].to_numpy() - gv["lo"].to_numpy() + 2 * gv["w"].to_numpy() + 1
    rep = np.repeat(np.arange(len(gv)), span)
    off = np.arange(len(rep)) - np.repeat(np.cumsum(span) - span, span)
    cover = pd.DataFrame({"group": gv["group"].to_numpy()[rep], "venue": gv["venue"].to_numpy()[rep],
                          "mode": gv["mode"].to_numpy()[rep],
                          "day": (gv["lo"].to_numpy() - gv["w"].to_numpy())[rep] + off}).drop_duplicates()
    rate = cover.groupby(["group", "venue", "mode"]).size().rename("c").reset_index()
    key = pd.MultiIndex.from_arrays([rate["venue"], rate["mode"]])
    rate["D"] = act["D"].reindex(key).fillna(period).to_numpy(float)
    rate["R"] = act["regulars"].reindex(key).fillna(0).to_numpy(float)
    rate["rate"] = np.minimum(rate["c"] / np.maximum(rate["D"], 1.0), 1.0)
    R = rate.groupby("group")["R"].sum().clip(lower=1.0)
    # each candidate's expected hits: λ = Σ over the group's (venue, mode) of their days × rate
    cand = h.rename("k").reset_index()
    mine = cand[["group", "patient_id"]].merge(days, on="patient_id").merge(
        rate[["group", "venue", "mode", "rate"]], on=["group", "venue", "mode"])
    lam = mine.groupby(["group", "patient_id"])["rate"].sum()
    lam = lam.reindex(pd.MultiIndex.from_frame(cand[["group", "patient_id"]])).fillna(0.0).to_numpy(float)
    tail = poisson.sf(cand["k"].to_numpy() - 1, np.maximum(lam, 1e-12))
    ok = R.reindex(cand["group"]).to_numpy(float) * tail < 1.0
    out: dict[int, set[str]] = {}
    for g, pid in zip(cand["group"].to_numpy()[ok], cand["patient_id"].to_numpy()[ok]):
        out.setdefault(int(g), set()).add(str(pid))
    # a person joins one ring only (the one they attend most)
    seen: dict[str, int] = {}
    for g, people in sorted(out.items()):
        for x in sorted(people):
            if x in seen and h.get((seen[x], x), 0) >= h.get((g, x), 0):
                people.discard(x)
            else:
                if x in seen:
                    out[seen[x]].discard(x)
                seen[x] = g
    return {g: s for g, s in out.items() if s}


def _range_pairs(lcode: np.ndarray, llo: np.ndarray, lhi: np.ndarray, rcode: np.ndarray,
                 rval: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` with ``lcode[i] == rcode[j]`` and ``llo[i] ≤ rval[j] ≤ lhi[i]``
    (integer arrays): a range join by one sort of the right side and two binary searches per
    left row, never the full product of rows sharing a code.

    >>> _range_pairs(np.array([0, 1]), np.array([2, 0]), np.array([3, 9]), np.array([0, 0, 1, 0]), np.array([1, 2, 5, 3]))
    (array([0, 0, 1]), array([1, 3, 2]))
    """
    lcode, llo, lhi = (np.asarray(a, np.int64) for a in (lcode, llo, lhi))
    rcode, rval = np.asarray(rcode, np.int64), np.asarray(rval, np.int64)
    if len(lcode) == 0 or len(rcode) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    base = min(int(rval.min()), int(llo.min()))
    width = np.int64(max(int(rval.max()), int(lhi.max())) - base + 1)
    key = rcode * width + (rval - base)
    order = np.argsort(key, kind="stable")
    skey = key[order]
    start = np.searchsorted(skey, lcode * width + (np.clip(llo, base, None) - base), side="left")
    end = np.searchsorted(skey, lcode * width + (lhi - base), side="right")
    n = np.maximum(end - start, 0)
    li = np.repeat(np.arange(len(lcode)), n)
    ri = order[np.repeat(start, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))]
    return li, ri


def _venue_codes(*frames: pd.DataFrame) -> list[np.ndarray]:
    """One integer code per (venue, mode) shared across ``frames``."""
    vm = pd.MultiIndex.from_arrays([pd.concat([f["venue"] for f in frames], ignore_index=True).astype(str),
                                    pd.concat([f["mode"] for f in frames], ignore_index=True).astype(str)])
    code = pd.factorize(vm)[0].astype(np.int64)
    cuts = np.cumsum([len(f) for f in frames])[:-1]
    return np.split(code, cuts)


def _in_windows(evs: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """``evs.merge(days, on=["venue", "mode"])`` restricted to ``lo − w ≤ day ≤ hi + w``, without
    the full product (a hub's events would pair with every person-day at the hub).

    >>> e = pd.DataFrame({"event": [0], "group": [1], "venue": ["v"], "mode": ["m"], "lo": [5], "hi": [6], "w": [1]})
    >>> d = pd.DataFrame({"venue": ["v", "v", "v", "u"], "mode": "m", "patient_id": ["a", "b", "c", "a"], "day": [3, 4, 7, 5]})
    >>> _in_windows(e, d)[["event", "patient_id", "day"]].to_dict("list")
    {'event': [0, 0], 'patient_id': ['b', 'c'], 'day': [4, 7]}
    """
    ec, dc = _venue_codes(evs, days)
    w = evs["w"].to_numpy(np.int64)
    li, ri = _range_pairs(ec, evs["lo"].to_numpy(np.int64) - w, evs["hi"].to_numpy(np.int64) + w,
                          dc, days["day"].to_numpy(np.int64))
    left = evs.iloc[li].reset_index(drop=True)
    right = days.drop(columns=["venue", "mode"]).iloc[ri].reset_index(drop=True)
    return pd.concat([left, right], axis=1)


def _components(edges: pd.DataFrame, groups: list[list[str]]) -> np.ndarray:
    """Connected component (of the pair graph ``edges``) of each group's first member."""
    ids, inv = np.unique(np.concatenate([edges["a"].to_numpy(object), edges["b"].to_numpy(object)]).astype(str),
                         return_inverse=True)
    ne = len(edges)
    g = sparse.coo_matrix((np.ones(ne), (inv[:ne], inv[ne:])), shape=(len(ids), len(ids)))
    _, lab = connected_components(g, directed=False)
    return lab[np.searchsorted(ids, np.array([grp[0] for grp in groups], dtype=str))]
