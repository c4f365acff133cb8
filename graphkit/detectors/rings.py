"""``collusion_ring`` (团伙骗保 / 结伴住院 / 诱导住院): groups of insured people and providers that
are settled together far more often, and more in lock-step, than chance allows.

Method
------
1. **Baskets** (projection ``co_visit_pairs``). Every claim falls in one *basket*: the
   provider-day where it was settled, or — when that provider-day is crowded (more than
   ``max_basket`` distinct people, e.g. a 3,000-bed hub) — the doctor-day inside it; a
   doctor-day that is still crowded, or has no doctor, is skipped. Crowded days are what make
   thousands of strangers coincide; skipping them keeps the work linear in the claims. Two
   *modes* are kept apart: inpatient admissions (a pair co-occurs when both are admitted
   within ``±window_days`` in one basket) and ambulatory settlements (outpatient visits and
   pharmacy purchases on the same day).
2. **Co-visit counts** with scipy.sparse: a patients × baskets incidence ``B`` and ``B·Bᵀ``
   (for admissions ``min(E·Wᵀ, W·Eᵀ)``, ``W`` being the ±window spread of the exact incidence
   ``E``), computed in row chunks of bounded work and thresholded in place, so only pairs with
   ``min_pair_visits`` joint days are ever materialised. People with fewer baskets than that
   are dropped before the product.
3. **Surprise**. For each surviving pair the number of joint days expected under independence
   is ``Σ_unit n_a·n_b·(2w+1)/D_unit`` (``n``: the person's days at that provider — or doctor,
   for split hubs; ``D``: the observation period in days for admissions, the unit's schedule
   for ambulatory care), ``lift = observed / expected``. Uniform days over the whole period
   are the right null for admissions: illness keeps no calendar, so a dozen people admitted
   together nine times is surprising even at a hospital that admits hardly anyone else — a
   null conditioned on each day's size, or on the hospital's own active weeks, would explain
   such a ring away by the very days it creates. For ambulatory care the unit's schedule
   (:func:`schedule_days`: its central span on its open weekdays — not the days it was seen
   open, which a ring that is most of a quiet clinic's business makes itself) absorbs clinics
   that open a few days a week and therapy shifts (dialysis lift ≈ 2).
4. **Grouping**. Pairs become edges when, in either mode, ``co ≥ min_pair_visits``,
   ``lift ≥ min_lift``, surprise ``-log10 P(X ≥ co) ≥ min_surprise`` (X binomial with the
   exact support: ``possible = Σ_unit min(n_a, n_b)`` trials, :func:`_binom_surprise`)
   (``min_surprise_ambulatory`` for outpatient days: many more pairs meet as outpatients, so
   the multiple-testing bar is higher) and synchrony ``co / Σ_unit min(n_a, n_b) ≥
   min_synchrony``. Lift alone lets two frequent visitors of one clinic through after three
   chance meetings (the city tests millions of pairs); significance alone lets a dialysis
   shift through at lift 2 over 150 sessions; synchrony asks that the meetings be a large
   part of what the two do there. The edge graph
   (weight ``co·ln(1+lift)``, ambulatory days × ``ambulatory_weight``) is cut into connected
   components and each into communities by Louvain (networkx, ``seed``). Louvain rather than
   a FRAUDAR peel: after these filters the graph is small and sparse, Louvain returns every
   ring in one pass (FRAUDAR peels one densest block per pass and is re-run per ring), copes
   with rings of any size and splits two rings joined by a bridging member. The peel serves
   where pairs carry no signal (step 6). Louvain also cuts a thin ring (a path of pairs each
   together twice) into pairs: parts smaller than ``min_members`` rejoin the parts of their
   component that meet at one of their venues.
5. **Events**. Each community's claims are re-read (projection ``patient_claims``) and
   clustered into *co-visit events*: one provider and mode, admissions chained while at most
   ``window_days`` apart (a chain longer than ``2·window_days + 1`` days — a hub admitting the
   people one after another — is cut greedily into such spans), ambulatory visits on one day;
   an event needs a quarter of the members (≥ 2). A *venue* is a provider with ≥ 2 events (or
   one event with half the members: a two-venue ring may hold one episode at its second
   hospital) and a venue lift ``≥ min_lift`` (joint presences of member pairs there against
   chance, from projection
   ``provider_activity``) — so chance meetings of ring members at a hub during their normal
   visits do not make the hub a venue; a ring needs ``min_co_visits`` events over its venues;
   its members are the people present at ≥ 2 events. Before these counts, communities are
   united when half the events of one meet events of the other (same venue, days within the
   window): Louvain may cut a loosely attended ring into parts that share its episodes.
   People outside the ring present at ≥ 2 of its events join it when fewer than one of the
   venues' regulars would by chance (:func:`_joiners`): staggered admissions leave a member
   without any joint admission.

6. **Dense blocks** (``dense=True``; projection ``inpatient_admissions``). Lock-step pairs
   miss a ring whose members are admitted often but seldom together (FRAUDAR's block density
   0.04: 200 people × 200 admission days, each person on ~8 of them, a pair together 0.3
   times) and a ring admitted so often that chance meetings explain its pairs (lift capped by
   ``366 / (3·admissions)``). Such a ring is still a *block* of the patient × admission-day
   matrix of one institution, made of *heavy users* (≥ ``min_block_visits`` admission days
   there). Per institution, the heavy users are counted against ``n·q`` (``n``: people it
   admitted; ``q``: the city's share of heavy (person, institution) pairs, estimated over the
   institutions whose own count is unsurprising, iterated, so rings do not raise their own
   bar); institutions with ``min_members`` heavy users, ``min_lift`` and ``min_surprise``
   are peeled: FRAUDAR's greedy densest-subgraph peel (:mod:`._peel`) of people with ≥ 2
   admissions × their admission days, columns weighted ``1/ln(people admitted that day + 5)``
   so crowded days count less; heavy users with half their admissions within ``window_days``
   of the block's days join it (the greedy sheds thin members early); the block's connected
   parts with ``min_members`` heavy users are separate candidates (two groups sharing only the
   venue), the rest one more; re-peeled without them (≤ 3 blocks per institution). A block
   needs ``min_members`` independent households (registered family, shared address) beyond
   chance; blocks at two institutions sharing half their members unite. A block and a
   lock-step ring at one venue sharing half the smaller membership are one ring: the larger
   wins, and a block absorbs the lock-step parts of a thinly attended ring. Blocks are scored
   like rings (events = admission days, lift = heavy users / expected, synchrony = share of the
   members' admissions at the venue) and carry ``evidence["method"] = "dense_block"`` and
   ``evidence["block"]``.

Scoring (calibrated on the data, :mod:`._ringnull`)
---------------------------------------------------
``score = surprise_score(surprise) × benign_factor(checks)`` (in [0, 1), never saturating).
The surprise is the ring's events against a null of independent members: each member visits a
venue on their own number of days; for admissions the days follow the venue region's admission
calendar (an influenza wave makes meetings likelier), for ambulatory care the venue's open days;
the events with at least ``k`` members are judged in the windows they happened (Poisson-binomial
per window), Bonferroni over the member sets the venues' regulars allow (``C(regulars, m)``:
the members were chosen after seeing the events) and over the candidate groups. Dense blocks: the venue's heavy
users against people admitted × the city's heavy-user share, Bonferroni over institutions.
``evidence["null"]`` holds both; synchrony, organisers, joint discharges and same-hour
arrivals stay in the evidence for the investigator but no longer weigh the score.

Benign checks (``evidence["benign_checks"]``; × ``benign_weight`` when one explains the whole
ring): households and care homes (registered families and shared addresses — ``related_share =
1 − (units − 1)/(m − 1)``, units being the components of the family/address links among the m
members; relations stay out of the edge weights, down-weighting the links inside a home makes
Louvain cut homes across), scheduled therapy (dialysis N18/Z49/Z99.2, rehabilitation Z50,
chemotherapy C/Z51 diagnoses, a regular ambulatory schedule, a cohort referred into the venue),
outbreaks (recorded: the calendar is in the null), hubs (a top-decile venue with the claims
spread over many doctors), group examinations and vaccination (Z00–Z13, Z23–Z27), pharmacy
queues (``card_burst``'s business), dates-only data. Findings below ``min_score`` (0.5: ten
times beyond the bar after the benign factors) are dropped.

Notes
-----
* The pair filters (``min_lift``, ``min_surprise``, ``min_synchrony``) only bound the work of
  finding candidates (ambulatory lifts of 2–3 are normal: weekday effects); the score is the
  ring-level null above.
* A ring that keeps to one crowded hub with no doctor recorded is invisible (its baskets are
  skipped); raise ``max_basket`` to trade time for reach.
* Ids key on the venue(s) and organiser doctors, so a member joining or leaving keeps the id;
  ``evidence["fingerprint"]`` (sha of the sorted members) and :func:`ring_lineage` track
  membership across runs.
* Scale (2 shared cores): a 9.97 M-claim demo city (850k people) in 31 s with a 3.7 GB peak
  (39 s with the dense-block stage, measured under load); 2.35 M claims in 6–25 s and ~1.1 GB.
  The pair projection dominates; its chunks are bounded (``chunk_flops``) so memory grows with
  the claims, not with the pairs tried. The dense stage reads only inpatient admissions and
  peels only institutions with surprising heavy users.
* Detection curve (bench/ring_curve.py): FRAUDAR's 200 × 200 block at density 0.04 under
  camouflage, member F1 0.995 (0.96 at 0.03); lock-step rings of a dozen people over 12
  episodes, F ≥ 0.95 down to density 0.4.

Examples
--------
>>> from graphkit.detectors import REGISTRY
>>> REGISTRY["collusion_ring"].defaults()["min_co_visits"]
3
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from ..findings import Entity, Finding, sort_findings
from ..params import Param, check_params
from ..projections import projection
from . import register
from ._common import benign_factor, surprise, surprise_score, yuan
from ._ringnull import CAMPAIGN_DIAGNOSES, AdmissionProfile, RingNull, ring_checks

__all__ = ["collusion_rings", "ring_lineage", "co_visit_pairs", "provider_activity", "patient_claims",
           "inpatient_admissions", "heavy_user_venues", "PARAMS"]

KIND = "collusion_ring"

#: diagnosis prefixes of scheduled therapy: dialysis (N18 CKD, Z49, Z99.2), rehabilitation (Z50),
#: chemotherapy cycles (C malignant neoplasms, Z51 sessions)
THERAPY_DIAGNOSES: tuple[str, ...] = ("N18", "Z49", "Z50", "Z51", "Z99.2", "C")

PARAMS: list[Param] = [
    Param("min_members", 3, "int", low=2, doc="smallest ring (people)"),
    Param("min_co_visits", 3, "int", low=2, doc="joint events (≥ a quarter of the members together) a ring needs"),
    Param("min_pair_visits", 2, "int", low=1, doc="joint admissions that link two people"),
    Param("min_pair_visits_ambulatory", 3, "int", low=1,
          doc="joint same-day outpatient/pharmacy settlements that link two people (2 finds thinner rings at about twice the time)"),
    Param("window_days", 1, "int", low=0, high=3, doc="admissions this many days apart still count as joint"),
    Param("max_basket", 40, "int", low=3, high=100_000,
          doc="provider-days with more people are split by doctor; doctor-days with more are skipped"),
    Param("min_lift", 4.0, "float", low=1.0, doc="observed / expected joint days a pair (and a venue) needs"),
    Param("min_surprise", 2.0, "float", low=0.0,
          doc="-log10 of the Poisson chance of a pair's joint admissions given the expectation (2: p ≤ 0.01)"),
    Param("min_surprise_ambulatory", 3.0, "float", low=0.0,
          doc="the same for joint ambulatory days: far more pairs meet as outpatients, so a stricter bar"),
    Param("min_synchrony", 0.3, "float", low=0.0, high=1.0,
          doc="share of a pair's possible joint days (days of the less frequent one at shared venues) that were joint"),
    Param("ambulatory", True, "bool", doc="also use same-day outpatient visits and pharmacy purchases"),
    Param("ambulatory_weight", 0.6, "float", low=0.0, high=1.0,
          doc="weight of joint ambulatory days in the pair graph that communities are cut from"),
    Param("benign_weight", 0.25, "float", low=0.0, high=1.0,
          doc="score factor when a legal explanation (household, care home, scheduled therapy, campaign) fits the whole ring"),
    Param("resolution", 1.0, "float", low=0.01, high=10.0,
          doc="Louvain resolution: 1 = modularity; above 1 cuts dense rings apart (3 leaves singletons), below 1 joins groups"),
    Param("min_score", 0.5, "float", low=0.0, high=1.0,
          doc="drop rings scoring lower: 0.5 = ten times beyond the multiple-testing bar after the benign factors"),
    Param("seed", 0, "int", low=0, doc="seed of the community detection"),
    Param("dense", True, "bool",
          doc="also find dense blocks: people admitted to one institution far more often than chance, together or not"),
    Param("min_block_visits", 3, "int", low=2, doc="admissions at one institution that make a person a heavy user there"),
]

_EMPTY_PAIRS = {
    "patient_a": "string", "patient_b": "string", "co_admissions": "int64", "expected_admissions": "float64",
    "possible_admissions": "float64", "co_visits": "int64", "expected_visits": "float64", "possible_visits": "float64",
}


# ------------------------------------------------------------------------------------------
# Projection: surprise-weighted co-visit pairs (the heavy, columnar part)
# ------------------------------------------------------------------------------------------
def _uniq(x: np.ndarray) -> np.ndarray:
    """Sorted unique values by sorting (numpy's hash-based ``unique`` is slower on big int64)."""
    x = np.sort(x)
    if len(x) < 2:
        return x
    keep = np.empty(len(x), bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def _uniq_below(x: np.ndarray, top: int, *, step: int = 1, width: int = 1) -> np.ndarray:
    """:func:`_uniq` of non-negative keys ``hi·step + lo`` (``lo < width ≤ step``, key < ``top``),
    by marking a table of ``(top / step)·width`` cells when that is not much larger than ``x``
    (no sort); else by sorting.

    >>> _uniq_below(np.array([2 * 8 + 1, 0, 2 * 8 + 1, 5]), 3 * 8, step=8, width=6).tolist()
    [0, 5, 17]
    """
    cells = -(-top // step) * width
    if len(x) == 0 or cells > max(2 * len(x), 1 << 16):
        return _uniq(x)
    hi, lo = np.divmod(x, step)
    mark = np.zeros(cells, bool)
    mark[hi * width + lo] = True
    hit = np.flatnonzero(mark)
    return (hit // width) * step + hit % width


def _runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, counts, inverse) of an already sorted array."""
    flag = np.empty(len(x), bool)
    if len(x):
        flag[0] = True
        np.not_equal(x[1:], x[:-1], out=flag[1:])
    start = np.flatnonzero(flag)
    return x[start], np.diff(np.r_[start, len(x)]), np.cumsum(flag) - 1


def _lookup(sorted_keys: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Index of each ``q`` in ``sorted_keys`` or -1."""
    if len(sorted_keys) == 0:
        return np.full(len(q), -1, np.int64)
    i = np.searchsorted(sorted_keys, q)
    i = np.minimum(i, len(sorted_keys) - 1)
    return np.where(sorted_keys[i] == q, i, -1)


def _index_of(sorted_keys: np.ndarray, q: np.ndarray) -> np.ndarray:
    """:func:`_lookup` for queries that are all in ``sorted_keys`` (non-negative): a direct table
    when the key range is small (one random read per query instead of a binary search).

    >>> _index_of(np.array([2, 5, 9]), np.array([9, 2, 5, 5])).tolist()
    [2, 0, 1, 1]
    """
    if len(sorted_keys) == 0:
        return np.full(len(q), -1, np.int64)
    top = int(sorted_keys[-1]) + 1
    if int(sorted_keys[0]) < 0 or top > max(4 * len(q), 1 << 20) or len(sorted_keys) >= 2**31:
        return _lookup(sorted_keys, q)
    table = np.empty(top, np.int32)
    table[sorted_keys] = np.arange(len(sorted_keys), dtype=np.int32)
    return table[q].astype(np.int64)


def _window_sizes(keys: np.ndarray, sizes: np.ndarray, window: int) -> np.ndarray:
    out = sizes.astype(np.int64).copy()
    for delta in range(-window, window + 1):
        if delta == 0:
            continue
        j = _lookup(keys, keys + delta)
        hit = j >= 0
        out[hit] += sizes[j[hit]]
    return out


def _mode_pairs(
    p: np.ndarray, u: np.ndarray, doc: np.ndarray, d: np.ndarray, *,
    n_patients: int, window: int, max_basket: int, min_co: int, null: str,
    chunk_flops: int = 4_000_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of patient codes with ≥ ``min_co`` joint baskets: (a, b, count, expected, possible).

    ``possible`` = ``Σ_unit min(n_a, n_b)``: the joint days the pair could have had.
    """
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, float), np.empty(0, float))
    if len(p) == 0:
        return empty
    day0 = int(d.min())
    d = d - day0 + window
    span = int(d.max()) + window + 1
    NP = np.int64(n_patients)
    # --- provider-day baskets and their (windowed) sizes in distinct people
    ud = u * span + d
    udp = _uniq(ud * NP + p)
    bk, bsize, _ = _runs(udp // NP)
    split = _window_sizes(bk, bsize, window) > max_basket
    csplit = split[_index_of(bk, ud)]  # every provider-day is a basket key
    # --- crowded provider-days: split by doctor
    ndoc = np.int64(max(int(doc.max()) + 2, 1))
    ukey = u * ndoc + doc  # (provider, doctor); doc -1 never used for split baskets
    s_rows = csplit & (doc >= 0)
    sp_units = _uniq(ukey[s_rows])
    nprov = np.int64(int(u.max()) + 1)
    unit = np.where(csplit, np.int64(-1), u)
    unit[s_rows] = nprov + _lookup(sp_units, ukey[s_rows])  # split rows with a doctor: their (provider, doctor)
    if s_rows.any():
        sk = (unit[s_rows] * span + d[s_rows])
        skp = _uniq(sk * NP + p[s_rows])
        sbk, ssize, _ = _runs(skp // NP)
        too_big = sbk[_window_sizes(sbk, ssize, window) > max_basket]
    else:
        too_big = np.empty(0, np.int64)
    fk = np.where(unit >= 0, unit * span + d, -1)
    if len(too_big):
        fk[_lookup(too_big, fk) >= 0] = -1
    keep = fk >= 0
    ex = _uniq(fk[keep] * NP + p[keep])
    ex_key, ex_p = ex // NP, ex % NP
    basket_keys, _, col_ex = _runs(ex_key)
    # --- eligibility: a pair needs min_co joint baskets, so each member needs min_co baskets
    per_p = np.bincount(ex_p, minlength=n_patients)
    elig = np.flatnonzero(per_p >= min_co)
    if len(elig) < 2:
        return empty
    row_of = np.full(n_patients, -1, np.int64)
    row_of[elig] = np.arange(len(elig))
    sel = row_of[ex_p] >= 0
    nB = len(basket_keys)
    E = sparse.csr_matrix(
        (np.ones(int(sel.sum()), np.int32), (row_of[ex_p[sel]], col_ex[sel])), shape=(len(elig), nB)
    )
    E.sum_duplicates()
    if window:
        # spread each eligible exact entry to the baskets of days d±δ of the same unit; a target
        # day is addressed as its own basket would be (split by this claim's doctor if crowded)
        kp = keep & (row_of[p] >= 0)
        rr, cc = [], []
        su_k = _lookup(sp_units, ukey[kp])
        for delta in range(-window, window + 1):
            t = d[kp] + delta
            tsplit_i = _lookup(bk, u[kp] * span + t)
            has = tsplit_i >= 0
            ts = np.zeros(len(t), bool)
            ts[has] = split[tsplit_i[has]]
            tunit = np.where(ts, np.where((su_k >= 0) & (doc[kp] >= 0), nprov + su_k, -1), u[kp])
            tk = np.where(has & (tunit >= 0), tunit * span + t, -1)
            col = _lookup(basket_keys, tk)
            ok = (tk >= 0) & (col >= 0)
            rr.append(row_of[p[kp][ok]])
            cc.append(col[ok])
        rr_a, cc_a = np.concatenate(rr), np.concatenate(cc)
        W = sparse.csr_matrix((np.ones(len(rr_a), np.int32), (rr_a, cc_a)), shape=(len(elig), nB))
        W.sum_duplicates()
        W.data[:] = 1
    else:
        W = E
    # K = E·Wᵀ (and min(E·Wᵀ, W·Eᵀ) with a window) in row chunks of bounded work; only pairs
    # a < b are kept, so the people are cut into column groups and a chunk of rows is multiplied
    # with its own group and the later ones only (about half the work of the full product)
    colsize = np.bincount(W.indices, minlength=nB)
    flops = E.multiply(colsize[None, :]).sum(axis=1).A.ravel() if E.nnz else np.zeros(E.shape[0])
    if window:
        flops = flops * 2
    groups = chunk_bounds(flops, max(float(flops.sum()) / _PAIR_GROUPS, 1.0))
    WT = [W[g0:g1].T.tocsr() for g0, g1 in zip(groups[:-1], groups[1:])]
    ET = [E[g0:g1].T.tocsr() for g0, g1 in zip(groups[:-1], groups[1:])] if window else WT
    A, B, C = [], [], []
    for gi, (g0, g1) in enumerate(zip(groups[:-1], groups[1:])):
        bounds = [g0 + x for x in chunk_bounds(flops[g0:g1], chunk_flops)]
        for r0, r1 in zip(bounds[:-1], bounds[1:]):
            Er, Wr = E[r0:r1], W[r0:r1]
            for gj in range(gi, len(WT)):
                K = Er @ WT[gj]
                if window:
                    K = K.minimum(Wr @ ET[gj])
                K.data[K.data < min_co] = 0  # threshold in place before any copy
                K.eliminate_zeros()
                K = K.tocoo()
                rows = K.row.astype(np.int64) + r0
                cols = K.col.astype(np.int64) + groups[gj]
                m = cols > rows
                A.append(rows[m])
                B.append(cols[m])
                C.append(K.data[m].astype(np.int64))
                del K, rows, cols, m
    del WT, ET
    a = np.concatenate(A) if A else np.empty(0, np.int64)
    b = np.concatenate(B) if B else np.empty(0, np.int64)
    c = np.concatenate(C) if C else np.empty(0, np.int64)
    if len(a) == 0:
        return empty
    # --- expected joint days under independence: sum over units of n_a * n_b * (2w+1) / D
    bunit = basket_keys // span
    bday = basket_keys % span
    units, _, uinv = _runs(bunit)
    if null == "period":
        # admissions: uniform over the whole observation period — not the unit's own span,
        # which a hospital that exists for its ring shrinks to the ring's own weeks
        D = np.full(len(units), float(max(int(bday.max()) - int(bday.min()) + 1, 28)))
    else:
        # ambulatory: the unit's weekly schedule over its active span (:func:`schedule_days`)
        seen = np.bincount(uinv, minlength=len(units))
        # central span of the unit's person-days: ``ex`` holds one row per (basket, person), by basket
        first, last = central_span(uinv[col_ex], bday[col_ex], len(units))
        wk = _open_weekdays(uinv, bday - window + day0, len(units))
        D = np.maximum(schedule_days(first, last, seen, wk), 1.0)
    f = np.minimum((2 * window + 1) / D, 1.0)
    N = sparse.csr_matrix(
        (np.ones(E.nnz, np.float64), (np.repeat(np.arange(E.shape[0]), np.diff(E.indptr)), uinv[E.indices])),
        shape=(E.shape[0], len(units)),
    )
    N.sum_duplicates()
    exp = np.empty(len(a))
    pos = np.empty(len(a))
    step = 1_000_000
    for s0 in range(0, len(a), step):
        Na, Nb = N[a[s0:s0 + step]], N[b[s0:s0 + step]]
        exp[s0:s0 + step] = Na.multiply(Nb) @ f
        pos[s0:s0 + step] = np.asarray(Na.minimum(Nb).sum(axis=1)).ravel()
    cap = np.minimum(per_p[elig[a]], per_p[elig[b]]).astype(float)
    exp = np.minimum(exp, cap)
    return elig[a], elig[b], c, exp, np.maximum(pos, c)



#: column groups of the pair product (``_mode_pairs``): chunk × later groups only
_PAIR_GROUPS = 8


def chunk_bounds(flops: np.ndarray, chunk_flops: float) -> list[int]:
    """Row boundaries cutting a sparse product into chunks of about ``chunk_flops`` work each."""
    bounds = [0]
    acc = 0.0
    for i, f in enumerate(flops):
        acc += f
        if acc >= chunk_flops:
            bounds.append(i + 1)
            acc = 0.0
    if bounds[-1] != len(flops):
        bounds.append(len(flops))
    return bounds

@projection("co_visit_pairs")
def co_visit_pairs(
    store: Any, *, min_pair_visits: int = 2, min_pair_visits_ambulatory: int = 3, window_days: int = 1,
    max_basket: int = 40, ambulatory: bool = True,
) -> pd.DataFrame:
    """Patient pairs settled together repeatedly, with the joint days expected by chance.

    Columns: ``patient_a < patient_b``, ``co_admissions`` (admissions within ±``window_days``
    at one uncrowded provider-day or doctor-day), ``expected_admissions`` (by chance),
    ``possible_admissions`` (``Σ min(n_a, n_b)`` over the providers both use), and the same
    three for ambulatory care (``co_visits``: same-day outpatient / pharmacy settlements). A
    pair is listed when either count reaches its threshold (``min_pair_visits`` /
    ``min_pair_visits_ambulatory``); the other count is then 0 when below its own threshold.
    """
    cols = ["patient_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id", "start_time"]
    cl = store.table("claims", cols)
    if cl.empty:
        return pd.DataFrame({k: pd.Series([], dtype=v) for k, v in _EMPTY_PAIRS.items()})
    pcode, pids = pd.factorize(cl["patient_id"], sort=True)
    inst = cl["institution_id"]
    is_inst = inst.notna().to_numpy()
    icode, _ = pd.factorize(inst)
    phcode, _ = pd.factorize(cl["pharmacy_id"])
    prov = np.where(is_inst, icode, int(icode.max()) + 1 + phcode).astype(np.int64)
    dcode, _ = pd.factorize(cl["doctor_id"])
    day = cl["start_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
    inpatient = (cl["claim_type"] == "inpatient").to_numpy(bool)
    del cl, inst
    valid = (prov >= 0) & (pcode >= 0)
    n = len(pids)
    results = {}
    modes = [("adm", inpatient & valid, window_days, min_pair_visits, "period")]
    if ambulatory:
        modes.append(("vis", ~inpatient & valid, 0, min_pair_visits_ambulatory, "active"))
    for name, m, w, mc, null in modes:
        results[name] = _mode_pairs(
            pcode[m].astype(np.int64), prov[m], dcode[m].astype(np.int64), day[m],
            n_patients=n, window=w, max_basket=max_basket, min_co=mc, null=null,
        )
    frames = []
    for name, (a, b, c, e, ps) in results.items():
        frames.append(pd.DataFrame({"a": a, "b": b, f"co_{name}": c, f"exp_{name}": e, f"pos_{name}": ps}))
    df = frames[0]
    for other in frames[1:]:
        df = df.merge(other, on=["a", "b"], how="outer")
    for name in ("adm", "vis"):
        if f"co_{name}" not in df:
            df[f"co_{name}"] = 0
            df[f"exp_{name}"] = 0.0
            df[f"pos_{name}"] = 0.0
    df = df.fillna({"co_adm": 0, "co_vis": 0, "exp_adm": 0.0, "exp_vis": 0.0, "pos_adm": 0.0, "pos_vis": 0.0})
    df = df.sort_values(["a", "b"], kind="stable")
    pid_arr = np.asarray(pids, dtype=object)
    return pd.DataFrame(
        {
            "patient_a": pd.array(pid_arr[df["a"].to_numpy(np.int64)], dtype="string"),
            "patient_b": pd.array(pid_arr[df["b"].to_numpy(np.int64)], dtype="string"),
            "co_admissions": df["co_adm"].to_numpy(np.int64),
            "expected_admissions": df["exp_adm"].to_numpy(float),
            "possible_admissions": df["pos_adm"].to_numpy(float),
            "co_visits": df["co_vis"].to_numpy(np.int64),
            "expected_visits": df["exp_vis"].to_numpy(float),
            "possible_visits": df["pos_vis"].to_numpy(float),
        }
    )


@projection("provider_activity")
def provider_activity(store: Any) -> pd.DataFrame:
    """Per provider and mode (``inpatient`` / ``ambulatory``): first and last day, open days, open
    weekdays (weekdays with settlements on ≥ 2 dates), people settled there and *regulars*
    (people settled there on ≥ 2 distinct days: those a ring's members can be drawn from)."""
    cl = store.table("claims", ["patient_id", "claim_type", "institution_id", "pharmacy_id", "start_time"])
    is_inst = cl["institution_id"].notna().to_numpy()
    icode, inames = pd.factorize(cl["institution_id"], sort=True)
    pcode, pnames = pd.factorize(cl["pharmacy_id"], sort=True)
    prov = np.where(is_inst, icode, len(inames) + pcode).astype(np.int64)
    inp = (cl["claim_type"] == "inpatient").to_numpy(bool).astype(np.int64)
    day = cl["start_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
    who, _ = pd.factorize(cl["patient_id"])
    ok = (prov >= 0) & (who >= 0)
    prov, inp, day, who = prov[ok], inp[ok], day[ok], who[ok].astype(np.int64)
    d0 = int(day.min()) if len(day) else 0
    unit = prov * 2 + inp
    uday = _uniq_below(unit * np.int64(1 << 20) + (day - d0), (int(unit.max()) + 1) << 20 if len(unit) else 0,
                       step=1 << 20, width=int(day.max()) - d0 + 1 if len(day) else 0)
    u, dd = uday >> 20, (uday & ((1 << 20) - 1)) + d0
    units, counts, uinv = _runs(u)
    end = np.cumsum(counts)
    start = end - counts
    names = np.concatenate([np.asarray(inames, dtype=object), np.asarray(pnames, dtype=object)])
    pv = units // 2
    return pd.DataFrame({
        "provider_type": np.where(pv < len(inames), "institution", "pharmacy"),
        "provider_id": pd.array(names[pv] if len(names) else np.array([], object), dtype="string"),
        "mode": np.where(units % 2 == 1, "inpatient", "ambulatory"),
        "first_day": dd[start],
        "last_day": dd[end - 1],
        "open_days": end - start,
        "open_weekdays": _open_weekdays(uinv, dd, len(units)),
        **_people(unit, who, day - d0, units, d0),
    })


def _people(unit: np.ndarray, who: np.ndarray, day: np.ndarray, units: np.ndarray, d0: int) -> dict[str, np.ndarray]:
    """Per unit of the sorted ``units``: distinct people, people on ≥ 2 distinct days, and the
    central span of its person-days (:func:`central_span`)."""
    if len(unit) == 0:
        z = np.zeros(len(units), np.int64)
        return {"patients": z, "regulars": z, "span_first": z, "span_last": z}
    npat, span = np.int64(int(who.max()) + 1), np.int64(int(day.max()) + 1)
    pd_key = _uniq((unit * span + day) * npat + who)  # one per distinct (unit, day, person), by unit and day
    lo, hi = central_span(np.searchsorted(units, pd_key // npat // span), pd_key // npat % span, len(units))
    key = _uniq((unit * npat + who) * span + day) // span  # one per distinct (unit, person, day)
    up, ndays, _ = _runs(key)  # (unit, person) and their distinct days
    u = up // npat
    at = np.searchsorted(units, u)
    return {"patients": np.bincount(at, minlength=len(units)).astype(np.int64),
            "regulars": np.bincount(at, weights=ndays >= 2, minlength=len(units)).astype(np.int64),
            "span_first": lo + d0, "span_last": hi + d0}


def central_span(unit: np.ndarray, day: np.ndarray, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Per unit (``0..n_units-1``, rows sorted by unit then day, one per person-day): the first
    and last day of its central 95 % of person-days — positions ``floor(0.025·n)`` and
    ``ceil(0.975·n) − 1``. A hub busy for three months whose span a few stray late visits stretch
    to a year keeps its three months.

    >>> central_span(np.zeros(41, np.int64), np.r_[np.arange(40), 300], 1)
    (array([1]), array([39]))
    """
    n = np.bincount(unit, minlength=n_units)
    start = np.r_[0, np.cumsum(n)[:-1]]
    lo = start + np.floor(0.025 * n).astype(np.int64)
    hi = start + np.ceil(0.975 * n).astype(np.int64) - 1
    ok = n > 0
    first, last = np.zeros(n_units, np.int64), np.zeros(n_units, np.int64)
    first[ok], last[ok] = day[lo[ok]], day[np.maximum(hi[ok], lo[ok])]
    return first, last


def _open_weekdays(unit: np.ndarray, day: np.ndarray, n_units: int) -> np.ndarray:
    """Per unit: the weekdays it settled on at least two distinct dates of (``unit``, ``day``:
    distinct unit-days, days as day numbers).

    >>> _open_weekdays(np.array([0, 0, 0, 0, 1]), np.array([0, 7, 1, 3, 5]), 2).tolist()
    [1, 0]
    """
    wd = (np.asarray(day, np.int64) + 3) % 7  # day 0 (1970-01-01) was a Thursday: Monday = 0
    per = np.bincount(np.asarray(unit, np.int64) * 7 + wd, minlength=n_units * 7).reshape(n_units, 7)
    return (per >= 2).sum(axis=1).astype(np.int64)


def schedule_days(first_day: np.ndarray, last_day: np.ndarray, open_days: np.ndarray,
                  open_weekdays: np.ndarray) -> np.ndarray:
    """Days a unit was open to anyone: the days of its active span on its open weekdays (at least
    the days it was seen settling).

    The days seen settling understate a quiet unit's schedule — and a ring that makes up most of
    a small clinic's business makes the very days it is measured against (20 days seen, 8 of
    them the ring's, in a span of 140): the weekly schedule over the active span does not move
    with the ring, and still absorbs clinics open a few days a week and therapy shifts.

    >>> schedule_days(np.array([0, 0]), np.array([139, 139]), np.array([20, 60]), np.array([7, 3])).tolist()
    [140.0, 60.0]
    """
    span = np.asarray(last_day, float) - np.asarray(first_day, float) + 1
    return np.maximum(np.asarray(open_days, float), np.floor(span * np.asarray(open_weekdays, float) / 7))


#: the claims columns the stages after the pair projection read (``_Shared``)
_CLAIM_COLUMNS = ["claim_id", "patient_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id",
                  "start_time", "end_time", "diagnosis_code", "fund_amount", "referral_id"]


@projection("patient_claims")
def patient_claims(store: Any, *, patient_ids: Sequence[str]) -> pd.DataFrame:
    """All claims of the given people, with ``provider_type`` / ``provider_id``."""
    from ..projections import provider_key

    cols = ["claim_id", "patient_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id",
            "start_time", "end_time", "diagnosis_code", "fund_amount"]
    cl = store.table("claims", cols)
    want = pd.Index(pd.unique(pd.Series(list(patient_ids), dtype="string")))
    out = cl[cl["patient_id"].isin(want)].copy()
    out["provider_type"], out["provider_id"] = provider_key(out)
    return out.drop(columns=["institution_id", "pharmacy_id"]).reset_index(drop=True)


# ------------------------------------------------------------------------------------------
# Grouping
# ------------------------------------------------------------------------------------------
def _relation_tables(store: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Registered family groups and address contacts of everyone."""
    contacts = store.table("contacts", ["patient_id", "kind", "value"])
    addr = contacts[(contacts["kind"] == "address").fillna(False) & contacts["value"].notna()]
    return store.projection("family_groups"), addr


def _relations_of(fam: pd.DataFrame, addr: pd.DataFrame,
                  members: Sequence[str]) -> tuple[dict[str, int], dict[str, frozenset[str]]]:
    """Family group and address tokens of the given people (the only relations used)."""
    want = pd.Index(list(members), dtype="string")
    fam = fam[fam["patient_id"].isin(want)]
    family = dict(zip(fam["patient_id"].astype(str), fam["family"].astype(int)))
    addr = addr[addr["patient_id"].isin(want).fillna(False)]
    address: dict[str, frozenset[str]] = {}
    for pid, vals in addr.groupby("patient_id", sort=True)["value"]:
        address[str(pid)] = frozenset(map(str, vals))
    return family, address


def _units(members: list[str], family: dict[str, int], address: dict[str, frozenset[str]]) -> int:
    """Number of connected components of the relation graph (family group, address) among members."""
    parent = {x: x for x in members}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first: dict[tuple[str, Any], str] = {}
    for x in members:
        keys = [("family", family[x])] if x in family else []
        keys += [("address", a) for a in sorted(address.get(x, ()))]
        for k in keys:
            if k in first:
                parent[find(x)] = find(first[k])
            else:
                first[k] = x
    return len({find(x) for x in members})


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


def _events(cl: pd.DataFrame, window: int) -> pd.DataFrame:
    """Cluster member claims into co-visit events per (group, provider, mode).

    Admissions chain while consecutive days are at most ``window`` apart; a chain spanning
    more than ``2·window + 1`` days (a hub admitting people one after another, or two groups
    admitted a few days apart) is cut greedily into spans of ``2·window + 1`` days. Ambulatory
    events are single days.
    """
    cl = cl.sort_values(["group", "venue", "mode", "day", "patient_id", "claim_id"], kind="stable")
    g = cl["group"].to_numpy()
    prov = cl["venue"].to_numpy(object)
    mode = cl["mode"].to_numpy(object)
    day = cl["day"].to_numpy(np.int64)
    gap = np.where(mode == "inpatient", window, 0)
    new = np.ones(len(cl), bool)
    if len(cl) > 1:
        same = (g[1:] == g[:-1]) & (prov[1:] == prov[:-1]) & (mode[1:] == mode[:-1])
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
    return cl.assign(event=np.cumsum(new) - 1)


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


@register(KIND, PARAMS)
def collusion_rings(
    store: Any,
    *,
    min_members: int = 3,
    min_co_visits: int = 3,
    min_pair_visits: int = 2,
    min_pair_visits_ambulatory: int = 3,
    window_days: int = 1,
    max_basket: int = 40,
    min_lift: float = 4.0,
    min_surprise: float = 2.0,
    min_surprise_ambulatory: float = 3.0,
    min_synchrony: float = 0.3,
    ambulatory: bool = True,
    ambulatory_weight: float = 0.6,
    benign_weight: float = 0.25,
    resolution: float = 1.0,
    min_score: float = 0.5,
    seed: int = 0,
    dense: bool = True,
    min_block_visits: int = 3,
) -> list[Finding]:
    """Groups of people and providers settled together far more densely than chance.

    Returns one :class:`~graphkit.findings.Finding` per ring: members (role ``member``),
    organiser doctors (``organiser``), venues (``venue``), the co-visit claims it rests on,
    and evidence (co-visit days, density, lift, synchrony, camouflage share, fingerprint).

    Examples
    --------
    >>> from graphkit.store import open_store                      # doctest: +SKIP
    >>> rings = collusion_rings(open_store("store"), min_members=4)  # doctest: +SKIP
    >>> rings[0].evidence["members"]                                 # doctest: +SKIP
    ['P000123', 'P000456', 'P000789', 'P001011']
    """
    p = check_params(KIND, PARAMS, {k: v for k, v in locals().items() if k != "store"})
    pairs = store.projection(
        "co_visit_pairs", min_pair_visits=min_pair_visits, min_pair_visits_ambulatory=min_pair_visits_ambulatory,
        window_days=window_days, max_basket=max_basket, ambulatory=ambulatory,
    )
    e = _edges(pairs, p)
    del pairs
    shared = _Shared(store)
    found: list[Finding] = []
    if not e.empty:
        e["weight"] = e["co"] * np.log1p(e["lift"])
        groups = _communities(e, min_members=min_members, resolution=resolution, seed=seed)
        if groups:
            found = _evaluate(shared, groups, e, p)
    if dense:
        found += _dense_rings(shared, p, found)
    return sort_findings(found)


class _Shared:
    """What the lock-step and the dense stage both read, each computed once per run: the
    ``provider_activity`` and ``inpatient_admissions`` projections, the context of the nulls and
    checks, registered families and addresses. On a store whose projections are computed here
    the claims are read once for all of them (and for the members' claims of both stages)."""

    def __init__(self, store: Any) -> None:
        from ..projections import ClaimsReadOnce, computes_with_pandas

        self.store = ClaimsReadOnce(store, _CLAIM_COLUMNS) if computes_with_pandas(store) else store
        self._memo: dict[str, Any] = {}

    def _get(self, name: str, fn) -> Any:
        if name not in self._memo:
            self._memo[name] = fn()
        return self._memo[name]

    def activity(self) -> pd.DataFrame:
        return self._get("activity", lambda: self.store.projection("provider_activity"))

    def adm(self) -> pd.DataFrame:
        return self._get("adm", lambda: self.store.projection("inpatient_admissions"))

    def context(self) -> dict[str, Any]:
        return self._get("context", lambda: _context(self.store, self.activity(), self.adm()))

    def relations(self, members: Sequence[str]) -> tuple[dict[str, int], dict[str, frozenset[str]]]:
        fam, addr = self._get("relations", lambda: _relation_tables(self.store))
        return _relations_of(fam, addr, members)


def _surprise(obs: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """-log10 P(X >= obs) for X ~ Poisson(expected)."""
    from scipy.stats import poisson

    with np.errstate(divide="ignore"):
        return -poisson.logsf(np.asarray(obs) - 1, np.maximum(expected, 1e-9)) / np.log(10)


def _binom_surprise(obs: np.ndarray, possible: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """-log10 P(X >= obs) for X ~ Binomial(possible, expected / possible): a pair cannot meet on
    more days than the rarer of the two comes (``possible``), which the Poisson tail ignores —
    two people who each came three times to a quiet clinic and met all three times are far
    less likely by chance than Poisson(expected) says.

    >>> _binom_surprise(np.array([3.0]), np.array([3.0]), np.array([0.2])).round(2).tolist()
    [3.53]
    """
    from scipy.stats import binom

    obs = np.asarray(obs, float)
    n = np.maximum(np.rint(np.asarray(possible, float)), obs)
    q = np.clip(np.asarray(expected, float) / np.maximum(n, 1.0), 1e-12, 1.0)
    with np.errstate(divide="ignore"):
        lp = binom.logsf(obs - 1, n, q)
    return np.where(obs <= 0, 0.0, -lp / np.log(10))


def _edges(pairs: pd.DataFrame, p: dict[str, Any]) -> pd.DataFrame:
    """Pairs that pass count, lift and synchrony in either mode, with their combined weight."""
    cols = {"a": "object", "b": "object", "co": "float64", "obs": "float64", "exp": "float64", "lift": "float64"}
    if pairs.empty:
        return pd.DataFrame({k: pd.Series([], dtype=v) for k, v in cols.items()})
    ok, co, obs, exp, lift = [], [], [], [], []
    for name, mc, w, on, ms in (
        ("admissions", p["min_pair_visits"], 1.0, True, p["min_surprise"]),
        ("visits", p["min_pair_visits_ambulatory"], p["ambulatory_weight"], p["ambulatory"], p["min_surprise_ambulatory"]),
    ):
        c = pairs[f"co_{name}"].to_numpy(float)
        x = pairs[f"expected_{name}"].to_numpy(float)
        l_ = c / np.maximum(x, 1e-9)
        n = np.maximum(pairs[f"possible_{name}"].to_numpy(float), c)
        sync = c / np.maximum(n, 1.0)
        surprise = _binom_surprise(c, n, x)
        k = on & (c >= mc) & (l_ >= p["min_lift"]) & (sync >= p["min_synchrony"]) & (surprise >= ms)
        ok.append(k)
        co.append(np.where(k, c * w, 0.0))
        obs.append(np.where(k, c, 0.0))
        exp.append(np.where(k, x, 0.0))
        lift.append(np.where(k, l_, 0.0))
    keep = ok[0] | ok[1]
    return pd.DataFrame({
        "a": pairs["patient_a"].astype(str).to_numpy(object)[keep],
        "b": pairs["patient_b"].astype(str).to_numpy(object)[keep],
        "co": (co[0] + co[1])[keep],
        "obs": (obs[0] + obs[1])[keep],
        "exp": (exp[0] + exp[1])[keep],
        "lift": np.maximum(lift[0], lift[1])[keep],
    })


# ------------------------------------------------------------------------------------------
# Group evaluation
# ------------------------------------------------------------------------------------------
def _obj(x: pd.Series) -> pd.Series:
    """Strings as a plain object column (None for missing): fast for the small per-ring frames."""
    return pd.Series(x.to_numpy(dtype=object, na_value=None), index=x.index, dtype=object)


def _member_claims(store: Any, groups: list[list[str]]) -> pd.DataFrame:
    members = [m for g in groups for m in g]
    cl = store.projection("patient_claims", patient_ids=members).reset_index(drop=True)
    gid = pd.Series({m: i for i, g in enumerate(groups) for m in g})
    pid = _obj(cl["patient_id"])
    ptype, prov = _obj(cl["provider_type"]), _obj(cl["provider_id"])
    start = cl["start_time"].to_numpy("datetime64[s]")
    end = cl["end_time"].to_numpy("datetime64[s]")
    end_day = end.astype("datetime64[D]").astype(np.int64).astype(float)
    end_day[np.isnat(end)] = np.nan
    return pd.DataFrame({
        "claim_id": _obj(cl["claim_id"]),
        "patient_id": pid,
        "group": pid.map(gid).to_numpy(np.int64),
        "mode": pd.Series(np.where((cl["claim_type"] == "inpatient").to_numpy(bool), "inpatient", "ambulatory"), dtype=object),
        "provider_type": ptype,
        "provider_id": prov,
        "venue": pd.Series((ptype + ":" + prov).to_numpy(object), dtype=object),
        "doctor_id": _obj(cl["doctor_id"]),
        "day": start.astype("datetime64[D]").astype(np.int64),
        "start_time": cl["start_time"],
        "end_time": cl["end_time"],
        "end_day": end_day,
        "diagnosis_code": _obj(cl["diagnosis_code"]),
        "fund_amount": cl["fund_amount"].to_numpy(float),
    })


def _schedule(act: pd.DataFrame) -> np.ndarray:
    """:func:`schedule_days` of ``provider_activity`` rows (over their central span)."""
    return schedule_days(act["span_first"].to_numpy(float), act["span_last"].to_numpy(float),
                         act["open_days"].to_numpy(float), act["open_weekdays"].to_numpy(float))


def _venue_lift(ev: pd.DataFrame, activity: pd.DataFrame, window: int) -> pd.DataFrame:
    """Per (group, venue, mode): joint presences of member pairs vs. chance.

    Observed ``J = Σ_events C(k, 2)`` (k = members present); expected, with member ``i``
    present on ``n_i`` days of a venue open ``D`` days (the observation period for admissions),
    ``Σ_{i<j} n_i n_j (2w+1)/D``. A crowded hub makes members meet by chance too; a ring
    venue does not.
    """
    keys = ["group", "venue", "mode"]
    k = ev.groupby("event").agg(group=("group", "first"), venue=("venue", "first"), mode=("mode", "first"),
                                k=("patient_id", "nunique"))
    obs = k.assign(j=k["k"] * (k["k"] - 1) / 2).groupby(keys)["j"].sum()
    n = ev.groupby([*keys, "patient_id"])["day"].nunique().astype(float)
    s1 = n.groupby(level=[0, 1, 2]).sum()
    s2 = (n ** 2).groupby(level=[0, 1, 2]).sum()
    act = activity.assign(venue=activity["provider_type"].astype(str) + ":" + activity["provider_id"].astype(str))
    adm = act[act["mode"] == "inpatient"]
    period = float(max(adm["last_day"].max() - adm["first_day"].min() + 1, 28)) if len(adm) else 365.0
    act = act.assign(D=np.where(act["mode"] == "inpatient", period, np.maximum(_schedule(act), 1.0)))
    D = act.set_index(["venue", "mode"])["D"]
    out = pd.DataFrame({"obs": obs.reindex(s1.index).fillna(0.0), "s1": s1, "s2": s2}).reset_index()
    d = D.reindex(pd.MultiIndex.from_arrays([out["venue"], out["mode"]])).to_numpy(float)
    width = np.where(out["mode"] == "inpatient", 2 * window + 1, 1)
    f = np.minimum(width / np.nan_to_num(d, nan=365.0), 1.0)
    out["expected"] = f * (out["s1"] ** 2 - out["s2"]) / 2
    out["venue_lift"] = out["obs"] / np.maximum(out["expected"], 1e-9)
    return out[[*keys, "obs", "expected", "venue_lift"]]


def _candidate_events(cl: pd.DataFrame, sizes: np.ndarray, activity: pd.DataFrame, p: dict[str, Any]) -> pd.DataFrame:
    """Claims of events with a quarter of their community (≥ 2) at venues beyond chance."""
    ev = _events(cl, p["window_days"])
    lifts = _venue_lift(ev, activity, p["window_days"])
    need = np.maximum(2, np.ceil(0.25 * sizes)).astype(int)
    nmem = ev.groupby("event")["patient_id"].transform("nunique").to_numpy()
    ev = ev[nmem >= need[ev["group"].to_numpy()]]
    ev = ev.merge(lifts, on=["group", "venue", "mode"], how="left")
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
        both = evs.merge(evs, on=["venue", "mode"])
        gap = np.where(both["mode"] == "inpatient", window, 0)
        both = both[(both["group_x"] < both["group_y"]) & (both["lo_y"] <= both["hi_x"] + gap)
                    & (both["lo_x"] <= both["hi_y"] + gap)]
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
    hit = evs.merge(days, on=["venue", "mode"])
    hit = hit[(hit["day"] >= hit["lo"] - hit["w"]) & (hit["day"] <= hit["hi"] + hit["w"])]
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


def _components(edges: pd.DataFrame, groups: list[list[str]]) -> np.ndarray:
    """Connected component (of the pair graph ``edges``) of each group's first member."""
    ids, inv = np.unique(np.concatenate([edges["a"].to_numpy(object), edges["b"].to_numpy(object)]).astype(str),
                         return_inverse=True)
    ne = len(edges)
    g = sparse.coo_matrix((np.ones(ne), (inv[:ne], inv[ne:])), shape=(len(ids), len(ids)))
    _, lab = connected_components(g, directed=False)
    return lab[np.searchsorted(ids, np.array([grp[0] for grp in groups], dtype=str))]


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
        null["n_tests"] = n_groups
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



def _context(store: Any, activity: pd.DataFrame, adm: pd.DataFrame | None = None) -> dict[str, Any]:
    """What every ring's null and checks share: the admission calendar, the observation period, the
    hub institutions, the institutions tested for dense blocks, the time precision."""
    from ..profile import time_precision

    if adm is None:
        adm = store.projection("inpatient_admissions")
    inst = store.table("institutions", ["institution_id", "region"])
    act = activity[activity["mode"] == "inpatient"]
    period = float(max(act["last_day"].max() - act["first_day"].min() + 1, 28)) if len(act) else 365.0
    day0 = int(act["first_day"].min()) if len(act) else 0
    profile = AdmissionProfile(adm, inst, day0, int(period)) if len(adm) else None
    people = adm.groupby("institution_id")["patient_id"].nunique() if len(adm) else pd.Series(dtype=float)
    hubs = set(people.index[people >= people.quantile(0.9)].astype(str)) if len(people) >= 10 else set()
    prec = time_precision(adm["start_time"]) if len(adm) else None
    return {"profile": profile, "period": period, "hubs": hubs, "dates_only": prec == "day",
            "n_institutions": max(int(len(people)), 1)}


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


def _referrals_of(store: Any, people: Sequence[str]) -> dict[str, set[str]]:
    """Referral destinations of each of the given people (who has any)."""
    refs = store.table("referrals", ["patient_id", "to_institution_id"]).astype("string").astype(object)
    refs = refs[refs["patient_id"].isin(set(people))]
    out: dict[str, set[str]] = {}
    for pid, to in zip(refs["patient_id"], refs["to_institution_id"]):
        if isinstance(to, str):
            out.setdefault(pid, set()).add(to)
    return out


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



# ------------------------------------------------------------------------------------------
# Dense blocks: heavy users of one institution (FRAUDAR-style peel)
# ------------------------------------------------------------------------------------------
@projection("inpatient_admissions")
def inpatient_admissions(store: Any) -> pd.DataFrame:
    """Inpatient claims at institutions: who was admitted where, when, under whom, for how much, and
    the referral the admission follows (if any)."""
    cols = ["claim_id", "patient_id", "claim_type", "institution_id", "doctor_id", "start_time", "end_time",
            "diagnosis_code", "fund_amount", "referral_id"]
    cl = store.table("claims", cols)
    keep = (cl["claim_type"] == "inpatient").fillna(False).to_numpy(bool) & cl["institution_id"].notna().to_numpy(bool)
    return cl.loc[keep, [c for c in cols if c != "claim_type"]].reset_index(drop=True)


def admission_days(adm: pd.DataFrame) -> pd.DataFrame:
    """Distinct (institution, person, admission day) of ``inpatient_admissions`` rows; days as
    day numbers."""
    day = adm["start_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
    return pd.DataFrame({"institution_id": adm["institution_id"].astype(str).to_numpy(object),
                         "patient_id": adm["patient_id"].astype(str).to_numpy(object),
                         "day": day}).drop_duplicates(ignore_index=True)


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

# ------------------------------------------------------------------------------------------
# Lineage across runs
# ------------------------------------------------------------------------------------------
def _members_of(f: Finding) -> set[str]:
    m = f.evidence.get("members")
    return set(m) if m else set(f.entity_ids("patient", "member"))


def ring_lineage(
    old_findings: Iterable[Finding], new_findings: Iterable[Finding], *, min_jaccard: float = 0.5
) -> list[tuple[str | None, str | None, list[str], list[str]]]:
    """Match rings of two runs by member Jaccard (≥ ``min_jaccard``), best matches first.

    Returns ``(old_id, new_id, added_members, removed_members)`` for every ring of either run:
    matched pairs, then vanished rings (``new_id`` None) and new rings (``old_id`` None).

    Examples
    --------
    >>> a = Finding.create(KIND, key=("x",), evidence={"members": ["P1", "P2", "P3"]})
    >>> b = Finding.create(KIND, key=("y",), evidence={"members": ["P1", "P2", "P3", "P4"]})
    >>> ring_lineage([a], [b]) == [(a.id, b.id, ["P4"], [])]
    True
    """
    old = [f for f in old_findings if f.kind == KIND]
    new = [f for f in new_findings if f.kind == KIND]
    cand = []
    for i, fo in enumerate(old):
        mo = _members_of(fo)
        for j, fn in enumerate(new):
            mn = _members_of(fn)
            union = mo | mn
            jac = len(mo & mn) / len(union) if union else 0.0
            if jac >= min_jaccard:
                cand.append((-jac, fo.id, fn.id, i, j))
    cand.sort()
    used_o: set[int] = set()
    used_n: set[int] = set()
    out: list[tuple[str | None, str | None, list[str], list[str]]] = []
    for _, _, _, i, j in cand:
        if i in used_o or j in used_n:
            continue
        used_o.add(i)
        used_n.add(j)
        mo, mn = _members_of(old[i]), _members_of(new[j])
        out.append((old[i].id, new[j].id, sorted(mn - mo), sorted(mo - mn)))
    out += [(f.id, None, [], sorted(_members_of(f))) for i, f in enumerate(old) if i not in used_o]
    out += [(None, f.id, sorted(_members_of(f)), []) for j, f in enumerate(new) if j not in used_n]
    return out
