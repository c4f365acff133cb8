"""``referral_concentration`` (转诊集中/利益输送): a doctor (or, for referrals without a doctor, an
institution) steering referrals to one destination, or out of the pooling region (转外就医), far
beyond its peers.

Null (calibrated on the bundle)
    Peers: doctors of the same department at institutions of the same level and region, united
    with the referrer's colleagues at its own institution (destination choice is geographic).
    For each (referrer, destination) the peer share is shrunk (``prior_strength`` referrals)
    towards the share of the referrer's region, itself shrunk towards the whole city, all
    leaving the referrer out. Doctors are not coins: some legitimately prefer the hospital they
    trained at, so the count is tested against a **beta-binomial** whose over-dispersion is
    estimated from the data (method of moments among same-department colleagues of one
    institution, over every destination, zeros included, without the referrers the binomial
    flags; no excess dispersion leaves the binomial) — a city where doctors' preferences
    vary widely lowers every surprise. ``-log10`` of the upper tail, beyond the Bonferroni bar
    over every referrer tested × every destination it could have chosen (plus the out-of-area
    test), is the surprise; the score is
    ``surprise_score(surprise) × benign factor``.

Out of area
    A referral is out of area when flagged (``out_of_area``) or when its destination's pooling
    region differs from the referring institution's (national 6-digit codes: the prefecture; a
    ``regions`` table's ``parent_code``; unknown otherwise — never guessed). The same test runs
    on each referrer's count of out-of-area referrals against its peers' share, so a doctor
    sending far more patients out of area than peers is a lead even when the destinations are
    spread over several hospitals.

Benign explanations (``evidence["benign_checks"]``)
    ``home_region`` — the steered patients live in the destination's pooling region (异地安置,
    returning home: the share that does explains that part); ``same_group`` — the destination is
    linked to the source (branch, group, shared roster: a hospital sending to its own main
    campus); ``hub_destination`` — what peers send there is the null, recorded; ``up_referral``
    — primary care sending to its designated higher-level hospital (双向转诊) shows as peers and
    colleagues sending there too (the union peer group), recorded; ``round_trips`` — the steered
    patients are referred back to the source (an up-down round trip, or a loop that
    ``referral_loop`` reports): × (1 − share returned). Explains: × ``benign_weight`` (partly: by
    the share explained).

Key: the referrer. Claims: the claims that follow the steered referrals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import betabinom, binom

from ..findings import Entity, Finding
from ..params import Param
from . import register
from ._common import benign_check, benign_factor, surprise, surprise_score, yuan
from ._links import institution_links, pool_mapper, pooling_regions

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["referral_concentrations", "overdispersion"]

LN10 = np.log(10.0)


def _pct(x: float) -> str:
    return "<0.1%" if x < 0.001 else f"{x:.1%}"


def _shrunk(x_grp: np.ndarray, n_grp: np.ndarray, prior: np.ndarray, alpha: float) -> np.ndarray:
    return (x_grp + alpha * prior) / (n_grp + alpha)


def overdispersion(group: np.ndarray, x: np.ndarray, n: np.ndarray, *, referrers: np.ndarray,
                   group_n: np.ndarray) -> float:
    """Beta-binomial precision ``α`` of counts ``x`` of ``n`` around their group's rate.

    Rows are (group, referrer) counts of one outcome; only rows with ``x > 0`` need be given:
    a referrer's zero adds only to the group totals ``group_n`` (referrals) and ``referrers``
    (referrer count), given per row. Method of moments per group, ``Σ n_r (x_r/n_r - p)² =
    p(1-p)[R + (N-R)/(α+1)]``, pooled over the groups. Returns ``inf`` when there is no excess
    variance.

    >>> g = np.array([0, 0]); n = np.array([50, 50]); R = np.array([2, 2]); N = np.array([100, 100])
    >>> overdispersion(g, np.array([5, 5]), n, referrers=R, group_n=N)
    inf
    >>> round(overdispersion(g, np.array([1, 9]), n, referrers=R, group_n=N), 2)
    18.17
    """
    df = pd.DataFrame({"g": group, "x": x.astype(float), "n": n.astype(float), "R": referrers, "N": group_n})
    df = df[df["n"] > 0]
    if df.empty:
        return float("inf")
    df["s2"] = df["x"] ** 2 / df["n"]
    g = df.groupby("g").agg(S1=("x", "sum"), S2=("s2", "sum"), R=("R", "first"), N=("N", "first"))
    g = g[(g["R"] >= 2) & (g["N"] > 0)]
    g["p"] = g["S1"] / g["N"]
    if g.empty:
        return float("inf")
    g = g[(g["p"] > 0) & (g["p"] < 1) & (g["N"] > g["R"])]
    if g.empty:
        return float("inf")
    pq = g["p"] * (1 - g["p"])
    obs = g["S2"] - 2 * g["p"] * g["S1"] + g["p"] ** 2 * g["N"]
    excess = float((obs - pq * g["R"]).sum())
    if excess <= 0:
        return float("inf")
    a1 = float((pq * (g["N"] - g["R"])).sum()) / excess
    return max(a1 - 1.0, 1e-3)


def _log10_tail(x: np.ndarray, n: np.ndarray, p: np.ndarray, alpha: float) -> np.ndarray:
    """log10 P(X ≥ x) under a beta-binomial of precision ``alpha`` (binomial when infinite)."""
    p = np.clip(p, 1e-9, 1 - 1e-9)
    with np.errstate(divide="ignore"):
        b = binom.logsf(x - 1, n, p) / LN10
    # where the tail underflows, its first term bounds it
    b = np.where(np.isfinite(b), b, binom.logpmf(x, n, p) / LN10)
    if not np.isfinite(alpha) or alpha > 1e7:
        return b
    with np.errstate(invalid="ignore", divide="ignore"):
        bb = betabinom.logsf(x - 1, n, alpha * p, alpha * (1 - p)) / LN10
    # where the beta-binomial underflows, it is at least as heavy-tailed as the binomial
    return np.where(np.isfinite(bb), bb, np.maximum(b, -300.0))


def _robust_alpha(keys: np.ndarray, x: np.ndarray, n: np.ndarray, p: np.ndarray, R: np.ndarray, N: np.ndarray,
                  n_tests: int) -> float:
    """:func:`overdispersion` of the rows the binomial does not flag beyond the bar (a trimmed
    estimate: the steering referrers do not set the dispersion they are measured against)."""
    keep = ~(surprise(_log10_tail(x, n, p, float("inf")), n_tests) > 0)
    return overdispersion(keys[keep], x[keep], n[keep], referrers=R[keep], group_n=N[keep])


@register(
    "referral_concentration",
    [
        Param("min_referrals", 10, "int", low=2,
              doc="referrals a doctor (or institution) needs to be tested: below, a handful of patients' needs, not a pattern"),
        Param("min_steered", 3, "int", low=1, doc="referrals to the destination (or out of area) a pattern needs: one or two are patient choice"),
        Param("prior_strength", 20.0, "float", low=0.0, doc="referrals of prior weight when shrinking a peer share to its parent"),
        Param("benign_weight", 0.25, "float", low=0.0, high=1.0, doc="score factor when a legal explanation fits"),
    ],
    needs=("referrals",),
    prefers={"places": "out-of-area only from the referrals' own flag when region codes cannot be placed"},
)
def referral_concentrations(
    store: Store,
    *,
    min_referrals: int = 10,
    min_steered: int = 3,
    prior_strength: float = 20.0,
    benign_weight: float = 0.25,
) -> list[Finding]:
    """Doctors (or institutions) steering referrals to one destination, or out of area, far beyond peers.

    Examples
    --------
    >>> from graphkit.store import open_store                                  # doctest: +SKIP
    >>> referral_concentrations(open_store("store"))[0].evidence["null"]        # doctest: +SKIP
    """
    d = store.projection("doctor_referrals")
    if d.empty:
        return []
    pools = pooling_regions(store)
    pool = pd.Series(pools["pool"].to_numpy(object), index=pools["institution_id"].to_numpy(object))
    pf = d["from_institution_id"].astype(str).map(pool)
    pt = d["to_institution_id"].astype(str).map(pool)
    derived = (pf.notna() & pt.notna() & (pf != pt)).to_numpy(bool)
    flagged = d["out_of_area"].astype(np.int64).to_numpy()
    d = d.assign(referrals=d["referrals"].astype(np.int64),
                 out_of_area=np.where(derived, d["referrals"].astype(np.int64).to_numpy(), flagged),
                 ooa_by_region=derived)
    a = prior_strength
    ref_keys = ["referrer_type", "referrer"]
    peer_keys = ["referrer_type", "level", "region", "department"]
    n_ref = d.groupby(ref_keys)["referrals"].transform("sum").to_numpy()
    N = d["referrals"].sum()
    x_self = d["referrals"].to_numpy()
    x_city = d.groupby("to_institution_id")["referrals"].transform("sum").to_numpy()
    K = max(int(d["to_institution_id"].nunique()), 1)
    # one pseudo-referral spread over the destinations: a destination nobody else uses is rare, not impossible
    p_city = (x_city - x_self + 1.0 / K) / (np.maximum(N - n_ref, 0) + 1.0)
    n_reg = d.groupby(["referrer_type", "region"])["referrals"].transform("sum").to_numpy() - n_ref
    x_reg = d.groupby(["referrer_type", "region", "to_institution_id"])["referrals"].transform("sum").to_numpy() - x_self
    p_reg = _shrunk(x_reg, n_reg, p_city, a)

    def tot(keys: list[str], dest: bool) -> np.ndarray:
        k = keys + (["to_institution_id"] if dest else [])
        return d.groupby(k)["referrals"].transform("sum").to_numpy()

    inst_keys = ["referrer_type", "from_institution_id"]
    both_keys = inst_keys + ["department"]
    n_grp = tot(peer_keys, False) + tot(inst_keys, False) - tot(both_keys, False) - n_ref
    x_grp = tot(peer_keys, True) + tot(inst_keys, True) - tot(both_keys, True) - x_self
    p_peer = np.clip(_shrunk(x_grp, n_grp, p_reg, a), 1e-9, 1 - 1e-9)
    d = d.assign(n=n_ref, p_peer=p_peer, share=x_self / n_ref)
    # per referrer: out-of-area counts against peers
    per = d.groupby(ref_keys + ["level", "region", "department"], sort=True).agg(
        n=("referrals", "sum"), ooa=("out_of_area", "sum")).reset_index()
    gk = ["referrer_type", "level", "region", "department"]
    gN = per.groupby(gk)["n"].transform("sum") - per["n"]
    gX = per.groupby(gk)["ooa"].transform("sum") - per["ooa"]
    cityN, cityX = per["n"].sum() - per["n"], per["ooa"].sum() - per["ooa"]
    per["p_peer_ooa"] = np.clip(_shrunk(gX.to_numpy(), gN.to_numpy(), (cityX / np.maximum(cityN, 1)).to_numpy(), a),
                                1e-9, 1 - 1e-9)
    tested = d[d["n"] >= min_referrals]
    per_t = per[per["n"] >= min_referrals]
    # each referrer tested is tested against every destination it could have steered to, and out of area
    n_tests = max(len(per_t) * (K + 1), 1)
    # over-dispersion of doctors' choices, from the data (zeros included through the group totals)
    # measured among colleagues of one department (same institution): geography and specialty make
    # doctors of other places and departments differ for reasons of their own
    gkey = pd.factorize(pd.MultiIndex.from_frame(d[both_keys + ["to_institution_id"]].astype(str)))[0]
    R = d.groupby(both_keys)["referrer"].transform("nunique").to_numpy()
    Ng = tot(both_keys, False)
    alpha_dest = _robust_alpha(gkey, x_self, n_ref, p_peer, R, Ng, n_tests)
    okey = pd.factorize(pd.MultiIndex.from_frame(per[gk].astype(str)))[0]
    alpha_ooa = _robust_alpha(okey, per["ooa"].to_numpy(), per["n"].to_numpy(), per["p_peer_ooa"].to_numpy(),
                              per.groupby(gk)["referrer"].transform("nunique").to_numpy(),
                              per.groupby(gk)["n"].transform("sum").to_numpy(), n_tests)
    d["log10_p"] = _log10_tail(x_self, n_ref, p_peer, alpha_dest)
    per["ooa_log10_p"] = np.where(per["ooa"] > 0, _log10_tail(per["ooa"].to_numpy(), per["n"].to_numpy(),
                                                               per["p_peer_ooa"].to_numpy(), alpha_ooa), 0.0)
    tested = d[d["n"] >= min_referrals]
    tops = tested.sort_values(ref_keys + ["log10_p", "referrals", "to_institution_id"],
                              ascending=[True, True, True, False, True]).drop_duplicates(ref_keys)
    perx = per.set_index(ref_keys)
    tops = tops.join(perx[["ooa", "ooa_log10_p", "p_peer_ooa"]].rename(columns={"ooa": "ooa_n"}), on=ref_keys)
    s_dest = surprise(tops["log10_p"].to_numpy(), n_tests)
    s_ooa = surprise(tops["ooa_log10_p"].to_numpy(), n_tests)
    s_dest = np.where(tops["referrals"].to_numpy() >= min_steered, s_dest, 0.0)
    s_ooa = np.where(tops["ooa_n"].fillna(0).to_numpy() >= min_steered, s_ooa, 0.0)
    sel = (s_dest > 0) | (s_ooa > 0)
    if not sel.any():
        return []
    refs_all = store.table("referrals", ["referral_id", "patient_id", "from_institution_id", "from_doctor_id",
                                         "to_institution_id", "referred_at", "out_of_area"])
    rf = refs_all["from_institution_id"].astype(str).map(pool)
    rt = refs_all["to_institution_id"].astype(str).map(pool)
    refs_all = refs_all.assign(ooa=(refs_all["out_of_area"].fillna(False).astype(bool)
                                    | (rf.notna() & rt.notna() & (rf != rt))).to_numpy(bool))
    has_doc = refs_all["from_doctor_id"].notna().to_numpy()
    # each referrer's referrals (positions; frames only for the referrers reported)
    by_doc = refs_all[has_doc].groupby("from_doctor_id", sort=False).indices
    by_inst = refs_all[~has_doc].groupby("from_institution_id", sort=False).indices
    doc_rows, inst_rows = np.flatnonzero(has_doc), np.flatnonzero(~has_doc)
    hits = []
    for k in np.flatnonzero(sel):
        top = tops.iloc[k]
        rtype, rid = top["referrer_type"], top["referrer"]
        at = (by_doc if rtype == "doctor" else by_inst).get(rid)
        mine = refs_all.iloc[:0] if at is None else refs_all.iloc[(doc_rows if rtype == "doctor" else inst_rows)[at]]
        pattern = "destination" if s_dest[k] >= s_ooa[k] else "out_of_area"
        if pattern == "destination":
            steered = mine[mine["to_institution_id"] == top["to_institution_id"]]
        else:
            steered = mine[mine["ooa"]]
        hits.append((top, pattern, float(max(s_dest[k], s_ooa[k])), mine, steered))
    rc = store.projection("referral_claims", referral_ids=pd.concat([h[4]["referral_id"] for h in hits]))
    rc = rc[~rc["origin"]]
    links = institution_links(store)
    pool_of = pool_mapper(store)
    pats = store.table("patients", ["patient_id", "region"])
    home = dict(zip(pats["patient_id"].astype(str).to_numpy(object), pats["region"].to_numpy(dtype=object, na_value=None)))
    # referrals by destination (as strings), for the patients sent back to a source
    to_s = refs_all["to_institution_id"].astype(str).to_numpy(object)
    from_s = refs_all["from_institution_id"].astype(str)
    to_at = pd.Series(np.arange(len(to_s))).groupby(to_s, sort=False).indices
    pool_d = pool.to_dict()
    rc_at = rc.groupby("referral_id", sort=False).indices  # claims following each referral (positions)
    d_at = d.groupby(["referrer_type", "referrer"], sort=False).indices  # each referrer's destinations
    findings = []
    for top, pattern, s, mine, steered in hits:
        rtype, rid = str(top["referrer_type"]), str(top["referrer"])
        info = perx.loc[(rtype, rid)]
        pos = [rc_at[x] for x in pd.unique(steered["referral_id"].dropna()) if x in rc_at]
        claims = rc.iloc[np.sort(np.concatenate(pos)) if pos else np.empty(0, np.int64)]
        fund = float(claims["fund_amount"].sum())
        n = int(info["n"])
        if pattern == "destination":
            share, peer, log10p = float(top["share"]), float(top["p_peer"]), float(top["log10_p"])
        else:
            share, peer, log10p = float(top["ooa_n"]) / n, float(info["p_peer_ooa"]), float(top["ooa_log10_p"])
        src = str(top["from_institution_id"])
        dset = set(steered["to_institution_id"].astype(str))
        at = to_at.get(src, np.empty(0, np.int64))
        back = refs_all.iloc[at[from_s.iloc[at].isin(dset).to_numpy(bool)]]
        back = back.assign(patient_id=back["patient_id"].astype(str))
        checks = _benign(steered, src, pattern, home, pool_d, pool_of, links, peer, benign_weight, back)
        score = float(surprise_score(s)) * benign_factor(checks)
        if score <= 0.0:
            continue
        dests = steered["to_institution_id"].astype(str).value_counts()
        ents = [Entity(rtype, rid, "referrer")]
        if rtype == "doctor":
            ents.append(Entity("institution", src, "source"))
        ents += [Entity("institution", x, "destination") for x in dests.index[:5]]
        ents += [Entity("patient", p, "patient") for p in sorted(steered["patient_id"].dropna().astype(str).unique())]
        who = f"医师{rid}（{src}）" if rtype == "doctor" else f"机构{rid}"
        who_en = f"doctor {rid} ({src})" if rtype == "doctor" else f"institution {rid}"
        if pattern == "destination":
            dest = str(top["to_institution_id"])
            txt = (f"{who}共转诊{n}次，其中{len(steered)}次（{share:.0%}）转往{dest}，同类医师仅{_pct(peer)}，疑似利益输送，基金{yuan(fund)}"
                   f" / {who_en} sent {len(steered)} of {n} referrals ({share:.0%}) to {dest}; peers send {_pct(peer)}")
        else:
            txt = (f"{who}共转诊{n}次，其中{len(steered)}次（{share:.0%}）为转外就医（{len(dests)}家机构），同类医师仅{_pct(peer)}，"
                   f"基金{yuan(fund)} / {who_en} sent {len(steered)} of {n} referrals ({share:.0%}) out of area"
                   f" ({len(dests)} hospitals); peers {_pct(peer)}")
        rows = d.iloc[d_at[(rtype, rid)]]
        ooa_basis = ("region" if bool(rows["ooa_by_region"].any()) else "flag") if int(info["ooa"]) else None
        findings.append(
            Finding.create(
                "referral_concentration",
                key=(rtype, rid),
                score=score,
                amount_at_risk=fund,
                start=steered["referred_at"].min(),
                end=steered["referred_at"].max(),
                entities=ents,
                claims=claims["claim_id"],
                summary=txt,
                evidence={
                    "pattern": pattern,
                    "referrer_type": rtype,
                    "peer_group": {"level": str(top["level"]), "region": str(top["region"]),
                                   "department": str(top["department"])},
                    "referrals_total": n,
                    "referrals_steered": int(len(steered)),
                    "destination": str(top["to_institution_id"]) if pattern == "destination" else None,
                    "share": share,
                    "peer_share": peer,
                    "surprise": s,
                    "destinations": {str(k): int(v) for k, v in zip(rows["to_institution_id"], rows["referrals"])},
                    "out_of_area_share": float(info["ooa"]) / n,
                    "out_of_area_basis": ooa_basis,
                    "referral_ids": sorted(steered["referral_id"].astype(str)),
                    "null": {
                        "method": ("beta-binomial upper tail of the referrer's count vs the peer share (same department,"
                                   " level and region, plus colleagues; empirical-Bayes shrunk to region and city;"
                                   " referrer left out); over-dispersion estimated from all peer groups"),
                        "test": pattern, "observed": int(len(steered)), "n": n, "peer_share": round(peer, 6),
                        "expected": round(peer * n, 3),
                        "overdispersion_alpha": None if not np.isfinite(alpha_dest if pattern == "destination" else alpha_ooa)
                        else round(float(alpha_dest if pattern == "destination" else alpha_ooa), 3),
                        "log10_p": round(log10p, 4), "n_tests": int(n_tests), "surprise": round(s, 4),
                        "prior_strength": float(prior_strength),
                    },
                    "benign_checks": checks,
                    "fund": fund,
                },
            )
        )
    return findings


def _benign(steered: pd.DataFrame, src: str, pattern: str, home: dict[str, Any], pools: dict[str, Any], pool_of: Any,
            links: Any, peer: float, w: float, back_refs: pd.DataFrame) -> list[dict]:
    checks = []
    # patients going home: their own pooling region is the destination's
    dest_pool = [pools.get(x) for x in steered["to_institution_id"].astype(str).to_numpy(object)]
    pat_pool = [pool_of(home.get(x)) for x in steered["patient_id"].astype(str).to_numpy(object)]
    same = [a == b for a, b in zip(dest_pool, pat_pool) if not pd.isna(a) and not pd.isna(b)]
    src_pool = pools.get(src)
    if pattern == "out_of_area" or any(not pd.isna(a) and a != src_pool for a in dest_pool):
        if not same:
            checks.append(benign_check("home_region", "患者返回居住地就医（异地安置）", "not_testable",
                                       "patients' or destinations' regions cannot be placed"))
        else:
            share = float(np.mean(same))
            if share >= 0.5:
                checks.append(benign_check("home_region", "患者返回居住地就医（异地安置）", "explains",
                                           f"{share:.0%} of the steered patients live in the destination's region",
                                           max(w, 1 - share)))
            elif share > 0:
                checks.append(benign_check("home_region", "患者返回居住地就医（异地安置）", "partial",
                                           f"{share:.0%} of the steered patients live in the destination's region", 1 - share))
            else:
                checks.append(benign_check("home_region", "患者返回居住地就医（异地安置）", "ruled_out",
                                           "none of the steered patients lives in the destination's region"))
    else:
        checks.append(benign_check("home_region", "患者返回居住地就医（异地安置）", "ruled_out", "destination within the pooling region"))
    dests = steered["to_institution_id"].astype(str).value_counts()
    linked = [x for x in dests.index if links.basis(src, x, bases=("name", "group", "roster"))]
    lshare = float(dests[linked].sum() / max(dests.sum(), 1)) if linked else 0.0
    if lshare >= 0.5:
        checks.append(benign_check("same_group", "同一集团/医联体内转诊", "explains",
                                   f"{lshare:.0%} go to institutions linked to {src} ({', '.join(linked)})", w))
    elif lshare > 0:
        checks.append(benign_check("same_group", "同一集团/医联体内转诊", "partial",
                                   f"{lshare:.0%} go to linked institutions", 1 - lshare * (1 - w)))
    else:
        checks.append(benign_check("same_group", "同一集团/医联体内转诊", "ruled_out", "destinations not linked to the source"))
    checks.append(benign_check("hub_destination", "区域中心医院/常规上转", "ruled_out",
                               f"peers (same department, level, region, and colleagues) send {_pct(peer)}: the null"))
    # patients sent back to the source: a round trip (up-down referral, or a loop reported as referral_loop)
    steered_people = set(steered["patient_id"].astype(str).to_numpy(object))
    returned = {x for x in back_refs["patient_id"].to_numpy(object) if isinstance(x, str)} & steered_people
    ret = float(len(returned) / max(steered["patient_id"].nunique(), 1))
    if ret > 0:
        checks.append(benign_check("round_trips", "往返转诊（上下转诊或循环转诊）", "explains" if ret >= 0.5 else "partial",
                                   f"{ret:.0%} of the steered patients were referred back to {src}: round trips, not steering"
                                   " (loops are reported as referral_loop)", 1 - ret))
    else:
        checks.append(benign_check("round_trips", "往返转诊（上下转诊或循环转诊）", "ruled_out", "no steered patient was referred back"))
    return checks
