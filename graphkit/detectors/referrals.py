"""Referral detectors: ``referral_loop`` (循环转诊), ``referral_concentration`` (转诊集中/利益输送)
and the *referral-abuse clusters* that join them with ``split_stay`` findings.

``referral_loop``
    Reciprocal (A→B→A) and cyclic (A→B→C→A) referral patterns among institutions.

    1. **Volume beyond the totals** (projection ``referral_edges``). For every directed
       institution pair the referral count ``n_XY`` is compared with what the institutions'
       totals predict under independence (a gravity / configuration null):
       ``E_XY = n_X· · n_·Y / N``; an edge's surprise is the Poisson tail
       ``-log10 P(X ≥ n_XY | E_XY)``. A cycle is as strong as its weakest edge.
    2. **Candidate cycles**: reciprocal pairs and directed triangles whose edges all exist,
       one of them with at least ``min_edge_referrals`` referrals (longer cycles are not
       enumerated).
    3. **Per-patient evidence** (projection ``referral_sequences``): a patient's referrals
       are chained when one starts where the previous one led, within ``max_gap_days``.
       Along a chain, a *return* closes a cycle (the patient is back where a cycle of the
       candidate started). The first return of a patient on an **up-down round trip** — from
       a primary-care institution (community, village or clinic; level 1 when the kind is
       unknown) up to a higher-level one and back down (双向转诊, encouraged policy) — is
       legitimate and not counted; every further return, and every return on a lateral,
       hospital-to-hospital or 3-institution cycle, is. *Bounce time*: days from arriving at an institution to
       being referred on along the cycle.
    4. **Null and score.** Two Poisson tails against the gravity null of the institutions'
       totals: the weakest cycle edge, and the *counted returns* — each chained referral of
       the cycle's patients leaving a cycle node goes on to the cycle's next node with that
       node's share of all referrals, which gives the returns expected by chance. The stronger
       tail, beyond the Bonferroni bar over the candidate cycles, is the surprise; a cycle
       needs ``min_patients`` patients, a counted return and a surprise > 0. Score:
       ``surprise_score(surprise) × benign factor``. Benign checks: ``up_down_round_trip``
       (the first primary-care return, not counted), ``same_organisation`` (campuses or group
       members moving patients), ``follow_up_pace`` (returns no faster than the city's median
       onward referral: follow-up visits).
    Key: the sorted institutions of the cycle. Claims: the claims that follow the cycle's
    referrals, plus each patient's claim at the origin just before their first referral.

``referral_concentration``
    In :mod:`.concentration` (re-exported here).

Referral-abuse clusters
    :func:`referral_clusters` runs Louvain (networkx, ``seed``) on the undirected,
    count-weighted institution referral graph and reports the communities in which
    findings of at least two of ``referral_loop``, ``referral_concentration`` and
    ``split_stay`` co-occur (a finding belongs to the communities of its institutions).
    It writes the cluster id into each participating finding's
    ``evidence["referral_cluster"]`` and returns one summary per cluster.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import poisson

from ..findings import KINDS, Entity, Finding
from ..params import Param
from ..projections import projection
from . import register
from ._common import benign_check, benign_factor, surprise, surprise_score, yuan
from ._links import institution_links
from ._ringnull import log10_poisson_tail

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["referral_loops", "referral_concentrations", "referral_clusters"]

DAY_S = 86_400
LN10 = np.log(10.0)


def _empty(cols: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in cols})


# ---------------------------------------------------------------------------------------------
# projections
# ---------------------------------------------------------------------------------------------
EDGE_COLUMNS = ["from_institution_id", "to_institution_id", "referrals", "patients", "out_total", "in_total",
                "total", "expected", "lift", "surprise"]


@projection("referral_edges")
def referral_edges(store: Store) -> pd.DataFrame:
    """Directed institution pairs: referral counts vs the independence (gravity) null."""
    r = store.table("referrals", ["referral_id", "patient_id", "from_institution_id", "to_institution_id"])
    r = r[r["from_institution_id"].notna() & r["to_institution_id"].notna()
          & (r["from_institution_id"] != r["to_institution_id"]).fillna(False)]
    if r.empty:
        return _empty(EDGE_COLUMNS)
    e = r.groupby(["from_institution_id", "to_institution_id"], sort=True).agg(
        referrals=("referral_id", "size"), patients=("patient_id", "nunique")).reset_index()
    return edge_expectation(e)


def edge_expectation(e: pd.DataFrame) -> pd.DataFrame:
    """Per-pair referral counts (``from_institution_id``, ``to_institution_id``, ``referrals``,
    ``patients``) → :data:`EDGE_COLUMNS`: out/in totals, the independence expectation
    ``out·in/total``, lift and Poisson surprise (-log10 of the upper tail)."""
    out_t = e.groupby("from_institution_id")["referrals"].sum()
    in_t = e.groupby("to_institution_id")["referrals"].sum()
    n = float(e["referrals"].sum())
    e = e.assign(out_total=e["from_institution_id"].map(out_t).to_numpy(),
                 in_total=e["to_institution_id"].map(in_t).to_numpy(), total=int(n))
    e["expected"] = e["out_total"] * e["in_total"] / n
    e["lift"] = e["referrals"] / e["expected"]
    e["surprise"] = -poisson.logsf(e["referrals"].to_numpy() - 1, e["expected"].to_numpy()) / LN10
    return e[EDGE_COLUMNS]


SEQ_COLUMNS = ["referral_id", "patient_id", "from_institution_id", "to_institution_id", "from_doctor_id",
               "referred_at", "chain", "step"]


@projection("referral_sequences")
def referral_sequences(store: Store, *, max_gap_days: float = 60.0) -> pd.DataFrame:
    """Referrals sorted by patient and time, with ``chain`` ids: consecutive referrals of one
    patient are chained when the next starts where the previous led, within ``max_gap_days``."""
    r = store.table("referrals", ["referral_id", "patient_id", "from_institution_id", "to_institution_id",
                                  "from_doctor_id", "referred_at"])
    r = r[r["patient_id"].notna() & r["referred_at"].notna()]
    if r.empty:
        return _empty(SEQ_COLUMNS)
    r = r.sort_values(["patient_id", "referred_at", "referral_id"], kind="stable").reset_index(drop=True)
    t = r["referred_at"].to_numpy("datetime64[s]").astype(np.int64)
    p = r["patient_id"].to_numpy(dtype=object)
    fr = r["from_institution_id"].to_numpy(dtype=object)
    to = r["to_institution_id"].to_numpy(dtype=object)
    link = np.r_[False, (p[1:] == p[:-1]) & (fr[1:] == to[:-1]) & (t[1:] - t[:-1] <= max_gap_days * DAY_S)]
    r["chain"], r["step"] = chain_steps(link)
    return r[SEQ_COLUMNS]


def chain_steps(link: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chain id and step within the chain of each row of a sorted sequence; ``link[i]`` says
    row ``i`` continues row ``i - 1``'s chain.

    >>> [a.tolist() for a in chain_steps(np.array([False, True, True, False, True]))]
    [[0, 0, 0, 1, 1], [0, 1, 2, 0, 1]]
    """
    chain = np.cumsum(~link) - 1
    return chain, np.arange(len(link)) - np.flatnonzero(~link)[chain]


@projection("referral_claims")
def referral_claims(store: Store, *, referral_ids: Iterable[str]) -> pd.DataFrame:
    """Claims that follow the given referrals (``origin`` False), plus each referred patient's
    last claim at the referring institution at or before the referral (``origin`` True)."""
    ids = pd.Index(pd.unique(pd.Series(list(referral_ids), dtype="string")))
    cols = ["claim_id", "patient_id", "institution_id", "start_time", "referral_id", "fund_amount"]
    refs = store.table("referrals", ["referral_id", "patient_id", "from_institution_id", "referred_at"])
    refs = refs[refs["referral_id"].isin(ids)]
    pats = pd.Index(pd.unique(refs["patient_id"]))
    # only the claims of these referrals and of their patients matter: read only them
    claims = store.table_where("claims", cols, [[("referral_id", "in", ids)], [("patient_id", "in", pats)]])
    follow = claims[claims["referral_id"].isin(ids)].assign(origin=False)
    cand = claims[claims["patient_id"].isin(pats) & claims["institution_id"].notna()]
    left = refs.rename(columns={"from_institution_id": "institution_id", "referred_at": "t"}).sort_values("t")
    right = cand.rename(columns={"start_time": "t", "referral_id": "via_referral"}).sort_values("t")
    if len(left) and len(right):
        left = left.assign(t=left["t"].astype("datetime64[s]"))
        right = right.assign(t=right["t"].astype("datetime64[s]"))
        m = pd.merge_asof(left, right[["t", "patient_id", "institution_id", "claim_id"]], on="t",
                          by=["patient_id", "institution_id"], direction="backward")
        oc = pd.Index(m["claim_id"].dropna().unique())
        origin = claims[claims["claim_id"].isin(oc)].assign(origin=True)
    else:
        origin = claims.iloc[:0].assign(origin=True)
    out = pd.concat([follow, origin], ignore_index=True).drop_duplicates("claim_id")
    return out.reset_index(drop=True)


@projection("doctor_referrals")
def doctor_referrals(store: Store) -> pd.DataFrame:
    """Referral counts per (referrer, destination) with the referrer's peer-group attributes.

    The referrer is the doctor, or the institution when the referral names no doctor
    (``referrer_type``). Peer attributes: the referring institution's level and region and
    the doctor's department.
    """
    r = store.table("referrals", ["referral_id", "from_institution_id", "from_doctor_id", "to_institution_id",
                                  "out_of_area"])
    r = r[r["from_institution_id"].notna() & r["to_institution_id"].notna()]
    cols = ["referrer_type", "referrer", "from_institution_id", "level", "region", "department",
            "to_institution_id", "referrals", "out_of_area"]
    if r.empty:
        return _empty(cols)
    docs = store.table("doctors", ["doctor_id", "department"])
    inst = store.table("institutions", ["institution_id", "level", "region"])
    has_doc = r["from_doctor_id"].notna()
    r = r.assign(
        referrer_type=np.where(has_doc, "doctor", "institution"),
        referrer=r["from_doctor_id"].where(has_doc, r["from_institution_id"]).astype("string"),
        department=r["from_doctor_id"].map(pd.Series(docs["department"].to_numpy(), index=docs["doctor_id"].to_numpy())),
        level=r["from_institution_id"].map(pd.Series(inst["level"].to_numpy(), index=inst["institution_id"].to_numpy())),
        region=r["from_institution_id"].map(pd.Series(inst["region"].to_numpy(), index=inst["institution_id"].to_numpy())),
        ooa=r["out_of_area"].fillna(False).astype(bool),
    )
    for c in ("department", "region"):
        r[c] = r[c].astype("string").fillna("?")
    r["level"] = r["level"].astype("string").fillna("?")
    g = r.groupby(["referrer_type", "referrer", "from_institution_id", "level", "region", "department",
                   "to_institution_id"], sort=True, dropna=False).agg(
        referrals=("referral_id", "size"), out_of_area=("ooa", "sum")).reset_index()
    return g[cols]


# ---------------------------------------------------------------------------------------------
# referral_loop
# ---------------------------------------------------------------------------------------------
def _city_bounce_days(seq: pd.DataFrame) -> float | None:
    """Median days between a patient's chained referrals (the pace of onward referral)."""
    if seq.empty:
        return None
    t = seq["referred_at"].to_numpy("datetime64[s]").astype(np.int64)
    step = seq["step"].to_numpy()
    d = np.r_[np.nan, np.diff(t) / DAY_S]
    d = d[step >= 1]
    return float(np.median(d)) if d.size else None


def _loop_checks(cyc: tuple[str, ...], st: pd.Series, med_b: float | None, city_bounce: float | None, links: Any,
                 w: float) -> list[dict]:
    """Benign checks of one referral cycle (module docstring)."""
    checks = []
    excluded = int(st["returns"]) - int(st["counted_returns"])
    if excluded:
        checks.append(benign_check("up_down_round_trip", "双向转诊（基层上转后下转）", "partial",
                                   f"{excluded} first up-down return(s) of primary-care patients not counted", 1.0))
    else:
        checks.append(benign_check("up_down_round_trip", "双向转诊（基层上转后下转）", "ruled_out",
                                   "no return is a primary-care up-down round trip"))
    lb = [links.basis(a, b, bases=("name", "group", "roster")) for a, b in _cycle_edges(cyc)]
    if all(lb):
        checks.append(benign_check("same_organisation", "同一集团/院区间转诊", "partial",
                                   f"the institutions are one organisation ({', '.join(sorted(set(lb)))})", w ** 0.5))
    else:
        checks.append(benign_check("same_organisation", "同一集团/院区间转诊", "ruled_out", "the institutions are not linked"))
    if city_bounce is None or med_b is None:
        checks.append(benign_check("follow_up_pace", "复诊/随访节奏", "not_testable",
                                   "no ordinary chained referrals to compare the pace with"))
    elif med_b >= city_bounce:
        checks.append(benign_check("follow_up_pace", "复诊/随访节奏", "partial",
                                   f"median {med_b:.0f} days before the next referral, no faster than the city's {city_bounce:.0f}",
                                   w ** 0.5))
    else:
        checks.append(benign_check("follow_up_pace", "复诊/随访节奏", "ruled_out",
                                   f"median {med_b if med_b is None else round(med_b)} days before the next referral"
                                   f" vs the city's {city_bounce if city_bounce is None else round(city_bounce)}"))
    return checks


def _candidate_cycles(edges: pd.DataFrame, min_edge_referrals: int) -> list[tuple[str, ...]]:
    """Reciprocal pairs and directed triangles whose edges all exist, at least one of them with
    ``min_edge_referrals`` referrals (directed institution tuples; triangles start at their
    smallest id, pairs are sorted)."""
    e = edges[["from_institution_id", "to_institution_id", "referrals"]].astype({"from_institution_id": str, "to_institution_id": str})
    if e.empty:
        return []
    strong = e["referrals"].to_numpy() >= min_edge_referrals
    pairs = e.merge(e, left_on=["from_institution_id", "to_institution_id"],
                    right_on=["to_institution_id", "from_institution_id"])
    pairs = pairs[(pairs["referrals_x"] >= min_edge_referrals) | (pairs["referrals_y"] >= min_edge_referrals)]
    out: set[tuple[str, ...]] = {tuple(sorted(ab)) for ab in zip(pairs["from_institution_id_x"], pairs["to_institution_id_x"])}
    # triangles a->b->c->a grown from a strong edge a->b
    ab = e[strong].rename(columns={"from_institution_id": "a", "to_institution_id": "b", "referrals": "n1"})
    bc = e.rename(columns={"from_institution_id": "b", "to_institution_id": "c", "referrals": "n2"})
    ca = e.rename(columns={"from_institution_id": "c", "to_institution_id": "a", "referrals": "n3"})
    tri = ab.merge(bc, on="b").merge(ca, on=["c", "a"])
    tri = tri[(tri["a"] != tri["c"])]
    for a, b, c in zip(tri["a"], tri["b"], tri["c"]):
        cyc = (a, b, c)
        k = cyc.index(min(cyc))
        out.add(cyc[k:] + cyc[:k])
    return sorted(out, key=lambda x: (len(x), x))


PRIMARY_KINDS = ("community", "village", "clinic")


def _primary_care(inst: pd.DataFrame) -> set[str]:
    """Primary-care institutions (基层): community/village/clinic kinds, or level 1 when the kind is unknown."""
    kind = inst["kind"].astype("string")
    lvl = pd.to_numeric(inst["level"], errors="coerce")
    prim = kind.isin(PRIMARY_KINDS).fillna(False) | (kind.isna() & (lvl == 1)).fillna(False)
    return set(inst["institution_id"][prim.to_numpy()].astype(str))


def _cycle_edges(cyc: tuple[str, ...]) -> list[tuple[str, str]]:
    """Directed edges of a reciprocal pair or a directed cycle.

    >>> _cycle_edges(("H1", "H2"))
    [('H1', 'H2'), ('H2', 'H1')]
    >>> _cycle_edges(("H1", "H2", "H3"))
    [('H1', 'H2'), ('H2', 'H3'), ('H3', 'H1')]
    """
    if len(cyc) == 2:
        return [(cyc[0], cyc[1]), (cyc[1], cyc[0])]
    return [(cyc[i], cyc[(i + 1) % len(cyc)]) for i in range(len(cyc))]


def _cycle_traversals(seq: pd.DataFrame, cycles: list[tuple[str, ...]], level: dict[str, float],
                      primary: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Vectorised per-patient traversals of all candidate cycles at once.

    Returns (rows, stats): ``rows`` = the referrals on each cycle's edges (column ``cycle``);
    ``stats`` per cycle: referrals, patients, returns, counted_returns, returning_patients,
    max_returns_per_patient, median_bounce_days.
    """
    emap = pd.DataFrame(
        [(k, f, t, len(c)) for k, c in enumerate(cycles) for f, t in _cycle_edges(c)],
        columns=["cycle", "from_institution_id", "to_institution_id", "L"],
    )
    rows = seq.merge(emap, on=["from_institution_id", "to_institution_id"])
    rows = rows.sort_values(["cycle", "chain", "step"], kind="stable").reset_index(drop=True)
    cyc = rows["cycle"].to_numpy()
    ch = rows["chain"].to_numpy()
    st = rows["step"].to_numpy()
    fr = rows["from_institution_id"].to_numpy(dtype=object)
    to = rows["to_institution_id"].to_numpy(dtype=object)
    t = rows["referred_at"].to_numpy("datetime64[s]").astype(np.int64)
    L = rows["L"].to_numpy()
    n = len(rows)
    # runs: consecutive steps of one chain along one cycle's edges
    brk = np.r_[True, (cyc[1:] != cyc[:-1]) | (ch[1:] != ch[:-1]) | (st[1:] != st[:-1] + 1)]
    run = np.cumsum(brk)
    bounce = np.where(~brk, np.r_[0, t[1:] - t[:-1]] / DAY_S, np.nan)
    # a return closes the cycle at row k: row j = k - L + 1 in the same run starts where k ends
    j = np.arange(n) - L + 1
    jj = np.maximum(j, 0)
    closes = (j >= 0) & (run[jj] == run) & (to == fr[jj])
    lv = np.array([level.get(x, np.nan) for x in fr], dtype=float)
    lv_to = np.array([level.get(x, np.nan) for x in to], dtype=float)
    prim = np.array([x in primary for x in fr], dtype=bool)
    up_down = (L == 2) & prim[jj] & (lv_to[jj] > lv[jj])
    rows["closes"] = closes
    rows["bounce"] = bounce
    order_in_patient = rows[closes].groupby(["cycle", "patient_id"]).cumcount()
    first = np.zeros(n, dtype=bool)
    first[order_in_patient.index[order_in_patient.to_numpy() == 0]] = True
    rows["counted"] = closes & ~(first & up_down)
    g = rows.groupby("cycle")
    per_pat = rows[closes].groupby(["cycle", "patient_id"]).size()
    stats = pd.DataFrame({
        "referrals": g.size(),
        "patients": g["patient_id"].nunique(),
        "returns": g["closes"].sum(),
        "counted_returns": g["counted"].sum(),
        "median_bounce_days": g["bounce"].median(),
    })
    stats["returning_patients"] = per_pat.groupby(level=0).size().reindex(stats.index).fillna(0).astype(int)
    stats["max_returns_per_patient"] = per_pat.groupby(level=0).max().reindex(stats.index).fillna(0).astype(int)
    return rows, stats


@register(
    "referral_loop",
    [
        Param("min_patients", 2, "int", low=1, doc="distinct patients on the cycle's edges (one patient's back-and-forth is their care)"),
        Param("min_edge_referrals", 2, "int", low=1, doc="referrals the strongest edge of a candidate cycle needs (the others: 1)"),
        Param("max_gap_days", 60.0, "float", low=1.0, doc="longest time between chained referrals of a patient"),
        Param("benign_weight", 0.25, "float", low=0.0, high=1.0, doc="score factor when a legal explanation fits (partly: its square root)"),
    ],
    needs=("referrals",),
)
def referral_loops(
    store: Store,
    *,
    min_patients: int = 2,
    min_edge_referrals: int = 2,
    max_gap_days: float = 60.0,
    benign_weight: float = 0.25,
) -> list[Finding]:
    """Reciprocal and cyclic referral patterns with repeated, fast returns beyond the totals.

    Examples
    --------
    >>> from graphkit.store import open_store                       # doctest: +SKIP
    >>> referral_loops(open_store("store"))[0].evidence["edges"]     # doctest: +SKIP
    """
    edges = store.projection("referral_edges")
    if edges.empty:
        return []
    cycles = _candidate_cycles(edges, min_edge_referrals)
    if not cycles:
        return []
    seq = store.projection("referral_sequences", max_gap_days=max_gap_days)
    seq = seq.assign(from_institution_id=seq["from_institution_id"].astype(str),
                     to_institution_id=seq["to_institution_id"].astype(str))
    inst = store.table("institutions", ["institution_id", "level", "kind"])
    level = dict(zip(inst["institution_id"].astype(str), pd.to_numeric(inst["level"], errors="coerce").astype(float)))
    primary = _primary_care(inst)
    eidx = edges.assign(f=edges["from_institution_id"].astype(str), t=edges["to_institution_id"].astype(str)).set_index(["f", "t"])
    rows_all, stats = _cycle_traversals(seq, cycles, level, primary)
    n_tests = max(len(cycles), 1)
    N = float(edges["referrals"].sum())
    in_share = (edges.groupby(edges["to_institution_id"].astype(str))["referrals"].sum() / max(N, 1.0)).to_dict()
    # the pace of ordinary onward referral: chained referrals off the candidate cycles
    city_bounce = _city_bounce_days(seq[~seq["referral_id"].isin(set(rows_all["referral_id"]))])
    keep = []
    for k, st in stats.iterrows():
        if st["patients"] < min_patients or st["counted_returns"] < 1:
            continue
        cyc = cycles[k]
        erows = eidx.loc[_cycle_edges(cyc)]
        on = rows_all[rows_all["cycle"] == k]
        # returns vs the totals: each chained referral of the cycle's patients leaving a cycle node
        # goes on to the cycle's next node with that node's share of all referrals (gravity)
        nxt = {a: b for a, b in _cycle_edges(cyc)}
        opp = seq[seq["patient_id"].isin(set(on["patient_id"])) & (seq["step"] >= 1)
                  & seq["from_institution_id"].isin(set(cyc))]
        exp_ret = float(sum(in_share.get(nxt[f], 0.0) for f in opp["from_institution_id"]))
        lp_ret = float(log10_poisson_tail(np.array([float(st["counted_returns"])]), np.array([max(exp_ret, 1e-12)]))[0])
        lp_edge = -float(erows["surprise"].min())
        s_ret, s_edge = float(surprise(lp_ret, n_tests)), float(surprise(lp_edge, n_tests))
        if max(s_ret, s_edge) <= 0:
            continue
        keep.append((cyc, erows, st, on, {"lp_ret": lp_ret, "lp_edge": lp_edge, "exp_ret": exp_ret,
                                           "opportunities": int(len(opp)), "s_ret": s_ret, "s_edge": s_edge}))
    if not keep:
        return []
    rc = store.projection("referral_claims", referral_ids=pd.concat([k[3]["referral_id"] for k in keep]))
    links = institution_links(store)
    findings = []
    for cyc, erows, st, on, nl in keep:
        weakest = -nl["lp_edge"]
        pats = set(on["patient_id"])
        refs = set(on["referral_id"])
        rows = rc[rc["referral_id"].isin(refs) | (rc["origin"] & rc["patient_id"].isin(pats)
                                                    & rc["institution_id"].astype(str).isin(set(cyc)))]
        fund = float(rows["fund_amount"].sum())
        n_pat = int(st["patients"])
        counted = int(st["counted_returns"])
        med_b = None if pd.isna(st["median_bounce_days"]) else float(st["median_bounce_days"])
        checks = _loop_checks(cyc, st, med_b, city_bounce, links, benign_weight)
        sv = max(nl["s_ret"], nl["s_edge"])
        score = float(surprise_score(sv)) * benign_factor(checks)
        if score <= 0:
            continue
        shape = "→".join(cyc + (cyc[0],)) if len(cyc) > 2 else f"{cyc[0]}⇄{cyc[1]}"
        weakest_lift = float(erows["lift"].min())
        docs = sorted(on["from_doctor_id"].dropna().astype(str).unique())
        ents = [Entity("institution", i, "venue") for i in cyc]
        ents += [Entity("doctor", d, "referrer") for d in docs]
        ents += [Entity("patient", p, "patient") for p in sorted(pats)]
        findings.append(
            Finding.create(
                "referral_loop",
                key=tuple(sorted(cyc)),
                score=score,
                amount_at_risk=fund,
                start=on["referred_at"].min(),
                end=on["referred_at"].max(),
                entities=ents,
                claims=rows["claim_id"],
                summary=(
                    f"{shape}之间循环转诊{len(on)}次，涉及{n_pat}名患者，其中{counted}次转回"
                    f"{f'（中位{med_b:.0f}天即再转出）' if med_b is not None else ''}"
                    f"{'，远超各院转诊总量的预期' if nl['s_edge'] > 0 else ''}，基金{yuan(fund)}"
                    f" / referral loop {shape}: {len(on)} referrals of {n_pat} patients, {counted} returns"
                    f"{f' (median {med_b:.0f} days to the next referral)' if med_b is not None else ''}"
                    f"{'; far above what the institutions’ totals predict' if nl['s_edge'] > 0 else ''}"
                ),
                evidence={
                    "cycle": list(cyc),
                    "edges": [
                        {"from": f, "to": t, "referrals": int(r.referrals), "patients": int(r.patients),
                         "expected": round(float(r.expected), 3), "lift": round(float(r.lift), 1),
                         "surprise": round(float(r.surprise), 1)}
                        for (f, t), r in erows.iterrows()
                    ],
                    "weakest_edge_surprise": weakest,
                    "weakest_edge_lift": weakest_lift,
                    "referrals": int(len(on)),
                    "patients": int(n_pat),
                    "returns": int(st["returns"]),
                    "counted_returns": counted,
                    "returning_patients": int(st["returning_patients"]),
                    "max_returns_per_patient": int(st["max_returns_per_patient"]),
                    "median_bounce_days": med_b,
                    "referral_ids": sorted(refs),
                    "fund": fund,
                    "null": {
                        "method": ("Poisson tails vs the gravity null of the institutions' referral totals: the weakest"
                                   " cycle edge (E = out x in / N), and the counted returns (each chained referral of the"
                                   " cycle's patients from a cycle node goes to the next node with that node's share of"
                                   " all referrals); the stronger of the two, Bonferroni over the candidate cycles"),
                        "log10_p_weakest_edge": round(nl["lp_edge"], 4), "log10_p_returns": round(nl["lp_ret"], 4),
                        "expected_returns": round(nl["exp_ret"], 4), "observed_returns": counted,
                        "opportunities": nl["opportunities"], "n_tests": n_tests,
                        "surprise": round(sv, 4),
                    },
                    "benign_checks": checks,
                },
            )
        )
    return findings


# ---------------------------------------------------------------------------------------------
# referral-abuse clusters
# ---------------------------------------------------------------------------------------------
CLUSTER_KINDS = ("referral_loop", "referral_concentration", "split_stay")


def referral_clusters(
    store: Store,
    findings: Sequence[Finding],
    *,
    seed: int = 0,
    resolution: float = 1.0,
    min_kinds: int = 2,
) -> list[dict[str, Any]]:
    """Communities of the institution referral graph where referral-abuse findings co-occur.

    Louvain communities (``networkx.community.louvain_communities`` with ``seed``) of the
    undirected institution graph weighted by referral counts; a finding of a kind in
    ``CLUSTER_KINDS`` belongs to the communities of its institution entities. A community
    holding findings of at least ``min_kinds`` different kinds is a cluster: its id
    (``RC-`` + hash of its sorted participating institutions) is written into
    ``evidence["referral_cluster"]`` of each participating finding (the findings are
    updated in place; a finding whose institutions span several clusters gets a list), and a
    summary is returned per cluster, strongest first (``score`` = sum of its findings' scores).

    Examples
    --------
    >>> referral_clusters(store, findings)[0]["kinds"]   # doctest: +SKIP
    ['referral_concentration', 'referral_loop', 'split_stay']
    """
    import networkx as nx

    edges = store.projection("referral_edges")
    g = nx.Graph()
    for f, t, n in zip(edges["from_institution_id"].astype(str), edges["to_institution_id"].astype(str),
                       edges["referrals"]):
        w = g.get_edge_data(f, t, {"weight": 0})["weight"]
        g.add_edge(f, t, weight=w + int(n))
    rel = [f for f in findings if f.kind in CLUSTER_KINDS]
    for f in rel:
        for i in f.entity_ids("institution"):
            g.add_node(i)
    if g.number_of_nodes() == 0:
        return []
    comms = nx.community.louvain_communities(g, weight="weight", resolution=resolution, seed=seed)
    comm_of = {n: k for k, c in enumerate(sorted((sorted(c) for c in comms))) for n in c}
    members: dict[int, list[Finding]] = {}
    for f in rel:
        roles = ("venue", "source", "destination") if f.kind != "split_stay" else ("venue",)
        insts = [e.id for e in f.entities if e.type == "institution" and e.role in roles]
        for k in sorted({comm_of[i] for i in insts if i in comm_of}):
            members.setdefault(k, []).append(f)
    out = []
    for k, fs in members.items():
        kinds = sorted({f.kind for f in fs})
        if len(kinds) < min_kinds:
            continue
        insts = sorted({e.id for f in fs for e in f.entities if e.type == "institution" and comm_of.get(e.id) == k})
        cid = "RC-" + hashlib.sha256("|".join(insts).encode()).hexdigest()[:10]
        for f in fs:
            prev = f.evidence.get("referral_cluster")
            if prev is None:
                f.evidence["referral_cluster"] = cid
            elif isinstance(prev, list):
                if cid not in prev:
                    prev.append(cid)
            elif prev != cid:
                f.evidence["referral_cluster"] = [prev, cid]
        out.append(
            {
                "cluster_id": cid,
                "institutions": insts,
                "community_size": sum(1 for n in comm_of if comm_of[n] == k),
                "kinds": kinds,
                "findings": sorted(f.id for f in fs),
                "findings_by_kind": {kd: sum(1 for f in fs if f.kind == kd) for kd in kinds},
                "score": round(float(sum(f.score for f in fs)), 6),
                "amount_at_risk": round(float(sum(f.amount_at_risk for f in fs)), 2),
                "summary": (
                    f"转诊网络社区内{len(insts)}家机构同时出现{'、'.join(KINDS[k][0] for k in kinds)}线索{len(fs)}条"
                    f" / {len(fs)} findings of {len(kinds)} referral-abuse kinds among {len(insts)} institutions of one referral community"
                ),
            }
        )
    return sorted(out, key=lambda c: (-c["score"], c["cluster_id"]))


from .concentration import referral_concentrations  # noqa: E402,F401  (re-exported: moved to .concentration)
