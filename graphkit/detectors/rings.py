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
the members were chosen after seeing the events) and over the candidate groups. A candidate with
several venues (or modes) is also judged at each venue alone — a venue where the community met
only by chance (a pharmacy shared by one member and an outsider) would dilute the pooled null —
and the most surprising candidate stands for it, Bonferroni over the candidates tried
(``evidence["null"]["venue_sets_tried"]``); where a venue alone wins, its members anchor the ring,
which keeps the events where two of them met at venues that qualify for them. Dense blocks: the venue's heavy
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

Modules
-------
This module registers the detector (:data:`PARAMS`, :func:`collusion_rings`), tracks rings
across runs (:func:`ring_lineage`) and re-exports the stages' public names:

* :mod:`._ringpairs` — candidate pairs: ``co_visit_pairs``, ``provider_activity``, the unit
  schedules, the pair tails and the pair filter (steps 1–4 above, before Louvain);
* :mod:`._ringthin` — thin pairs (two joint ambulatory days beyond the unit's own bar);
* :mod:`._ringcontext` — what later stages read: ``patient_claims``, ``inpatient_admissions``,
  members' claims, households, referrals, the shared null context (``_Shared``);
* :mod:`._ringgroups` — communities, co-visit events, venues, pooling and joiners (steps 4–5);
* :mod:`._ringfinding` — ring metrics, benign factors, score and the finding (scoring above);
* :mod:`._ringdense` — dense blocks of heavy users (step 6);
* :mod:`._ringnull` — the ring-level null and the benign checks.

Examples
--------
>>> from graphkit.detectors import REGISTRY
>>> REGISTRY["collusion_ring"].defaults()["min_co_visits"]
3
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from ..findings import Finding, sort_findings
from ..params import Param, check_params
from . import register
from ._ringcontext import _Shared, admission_days, inpatient_admissions, patient_claims  # noqa: F401 (re-exported)
from ._ringdense import _dense_rings, heavy_user_venues  # noqa: F401 (re-exported)
from ._ringfinding import KIND, THERAPY_DIAGNOSES, _evaluate  # noqa: F401 (re-exported)
from ._ringgroups import _communities
from ._ringpairs import (  # noqa: F401 (re-exported)
    _edges, central_span, chunk_bounds, co_visit_pairs, provider_activity, schedule_days,
)

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["collusion_rings", "ring_lineage", "co_visit_pairs", "provider_activity", "patient_claims",
           "inpatient_admissions", "heavy_user_venues", "PARAMS"]

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
    Param("thin_pairs", True, "bool",
          doc="also link two people with two joint ambulatory days where that beats the unit's own bar "
              "(fewer than one chance pair among its regulars)"),
]


@register(KIND, PARAMS)
def collusion_rings(
    store: Store,
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
    thin_pairs: bool = True,
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
        window_days=window_days, max_basket=max_basket, ambulatory=ambulatory, thin_pairs=thin_pairs,
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
