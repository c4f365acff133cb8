"""The provider risk score: exposure plus bounded evidence, on the log-odds scale.

For every institution, pharmacy and doctor (plus terminals a finding touches)::

    logit = prior + exposure + indicators + findings + network
    score = 1 / (1 + exp(−logit))

* ``prior`` = logit(``prior_share``): the same for everyone; it only sets where the scores sit.
* ``exposure`` = ½·ln(fund / fund_ref) + ½·ln(claims / claims_ref): every claim is a chance for
  fraud, so the odds that a provider is involved grow in proportion to its volume (slope 1 on
  the log scale, a Poisson exposure). The references are the medians over institutions and
  pharmacies (doctors: over doctors).
* ``indicators``, ``findings``, ``network``: bounded, one-sided log-likelihood ratios (≥ 0).
  Their caps follow Kass & Raftery's (1995) scale for Bayes factors: peer-relative indicators
  and network association are at most *positive* evidence (``ln 20``), a detector finding
  at most *strong* evidence (``ln 150``). Each is ``cap · x/(1+x)`` of its own measure ``x``,
  so it never reaches the cap and keeps strong cases in order.

When the evidence parts are 0 the ranking is exposure alone; evidence moves a provider up by at
most a factor of 20 or 150 in odds. Every part is a column of ``scores.csv`` and the score is
recomputed from them exactly (see ``tests/test_risk.py``).

Examples
--------
>>> round(float(logistic(np.array([0.0]))[0]), 3)
0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from ..findings import Finding
from ..allocator import release_memory
from .activity import Activity, index_of, table_batches
from .evidence import attributions, findings_evidence
from .indicators import INDICATORS, PAIR_CHUNK, _entity_slices, format_indicator
from .network import ProviderGraph, network_evidence
from .combine import _W_MAX, PARTS, PriorFit, fit_prior, idf_weighted_terms, score_of_hazard
from .peers import peer_levels
from .shared import release as release_shared, shared_excess, shared_graph, shared_indicators, shared_outlier_leads

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["RiskResult", "provider_risk", "SCORES_COLUMNS", "RISK_COLUMNS", "DEFAULTS", "logistic", "indicator_hazard"]

SCORES_COLUMNS = ["entity_type", "entity_id", "score", "finding_count", "amount_at_risk", "top_kinds"]
RISK_COLUMNS = SCORES_COLUMNS + [
    "rank", "name", "region", "peer_group", "hazard", "prior_hazard", "findings", "prior", "prior_logit", "intercept",
    "exposure", "indicators", "network",
    "claims", "fund_total", "patients", "people_flagged", "kinds", "flagged_ratio", "indicator_excess",
    "indicator_hazard", "network_ratio", "top_indicators",
]

#: declared defaults (see docs/risk-model.md for why each value)
DEFAULTS: dict[str, float] = {
    "prior_share": 0.05,        # only shifts every score; never changes the ranking
    "cap_indicators": math.log(20.0),   # Kass-Raftery: "positive" evidence at most
    "cap_network": math.log(20.0),      # association, not proof: "positive" at most
    "min_peers": 10,            # robust median/MAD needs ~10 values to be stable
    "alpha": 0.5,               # PageRank damping: half the weight on direct neighbours
    "ridge": 1.0,               # unit-variance Gaussian prior on each calibrated slope
    # weight of the prior's hazard: the share of fraud the detectors cannot see. The scan sets it
    # to the share of the detector battery the data did not support (skipped or degraded kinds),
    # never below one kind's share (1/10): see docs/risk-model.md
    "prior_weight": 0.1,
}


#: finding kinds left out of the prior's soft labels: they are a function of the prior's own
#: features (indicator_outlier: the peer-relative indicators), see docs/risk-model.md
PRIOR_EXCLUDED_KINDS = ("indicator_outlier",)
#: finding kinds left out of the findings part ``F`` (and of the detector battery behind λ): the
#: indicators already enter through the prior, and counting indicator_outlier in ``F`` lowered the
#: provider ROC-AUC of every variant without over-billing (0.955 → 0.908 on default, see
#: docs/risk-model.md) — measured, backed out
FINDINGS_EXCLUDED_KINDS = ("indicator_outlier",)

#: kinds whose subject is a card or a person (a dead person's card, a card used after its
#: replacement, one card in two places at once): the provider where it was used settled what was
#: presented to it, so such a finding implicates a provider only as far as these leads concentrate
#: there beyond its volume (several misused cards at one pharmacy: 留存/盗刷), see
#: :func:`_concentration_terms`; a finding's *witnesses* (entity roles in
#: :data:`~graphkit.risk.evidence.WITNESS_ROLES`) count the same way
CARD_KINDS = ("deceased_card_use", "shared_card", "impossible_travel")


def scored_findings(findings: Sequence[Finding]) -> list[Finding]:
    """The findings the score counts, in the order the attributions number them (``f``).

    >>> scored_findings([])
    []
    """
    return [f for f in findings if f.kind not in FINDINGS_EXCLUDED_KINDS]


def logistic(x: np.ndarray) -> np.ndarray:
    """``1/(1+exp(−x))``, computed stably."""
    x = np.asarray(x, float)
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


@dataclass
class RiskResult:
    """Scores (one row per entity, :data:`RISK_COLUMNS`) and what they were computed from."""

    scores: pd.DataFrame
    excess: pd.DataFrame
    attributions: pd.DataFrame
    network: pd.DataFrame
    activity: Activity
    graph: ProviderGraph
    notes: list[str] = field(default_factory=list)
    params: dict[str, float] = field(default_factory=dict)
    #: position in the entity table (then terminals) of each ``scores`` row
    order: np.ndarray | None = None


def indicator_hazard(x: Any, cap: float) -> Any:
    """The indicators' evidence ``cap · x/(1+x)`` (nats) of a family-weighted excess ``x``: bounded by
    ``cap`` (ln 20, Kass–Raftery's "positive" evidence), never saturating.

    >>> round(indicator_hazard(1.0, 2.0), 3), round(float(indicator_hazard(np.array([0.0, 9.0]), 2.0)[1]), 3)
    (1.0, 1.8)
    """
    return cap * x / (1.0 + x)


def _surviving_share(ent: pd.DataFrame, leads: list[Finding], ex: pd.DataFrame, min_peers: int) -> np.ndarray:
    """Per entity row, the share of its indicator excess (``ex``, :func:`shared_excess`) left by
    ``indicator_outlier``'s benign checks (``leads``: its findings with default parameters).

    The part of an institution's or pharmacy's excess that ``indicator_outlier`` tested (peer
    groups of ``min_peers`` or more) keeps the product of the factors of the checks that (partly)
    explain its lead — 0 without a lead (below the fence, or explained as its specialty's). The
    part measured against a smaller peer group (the coarsest fallback still had fewer than
    ``min_peers``: the detector does not test it, so no check ran) counts unchecked. Doctors: 0
    (the detector tests providers only)."""
    from ..detectors._common import benign_factor
    from ..detectors.outliers import PROVIDERS

    types = ent["entity_type"].to_numpy()
    row = {(t, str(i)): n for n, (t, i) in enumerate(zip(types, ent["entity_id"].to_numpy()))}
    b = np.zeros(len(ent))
    for f in leads:
        for e in f.entities:
            if e.role == "venue" and (e.type, str(e.id)) in row:
                b[row[(e.type, str(e.id))]] = benign_factor(f.evidence.get("benign_checks", []))
    if not len(ex):
        return b
    r = ex["row"].to_numpy(int)
    c = ex["contribution"].to_numpy(float)
    small = (ex["peer_size"].to_numpy(int) < int(min_peers)) & np.isin(types[r], PROVIDERS)
    x = np.bincount(r, weights=c, minlength=len(ent))
    x_small = np.bincount(r, weights=np.where(small, c, 0.0), minlength=len(ent))
    return np.where(x > 0, ((x - x_small) * b + x_small) / np.maximum(x, 1e-300), b)


def _volume(act: Activity, ind: pd.DataFrame | None = None) -> pd.DataFrame:
    ne = act.n_entities
    claims = np.zeros(ne)
    fund = np.zeros(ne)
    for who in (act.prov, act.doc):
        sel = who >= 0
        claims += np.bincount(who[sel], minlength=ne)
        fund += np.bincount(who[sel], weights=act.fund[sel], minlength=ne)
    pats = np.zeros(ne)
    if ind is not None and len(ind):
        vpp = ind[ind["indicator"] == "visits_per_person"]  # its n: distinct patients per entity
        pats[vpp["row"].to_numpy(int)] = vpp["n"].to_numpy(float)
    return pd.DataFrame({"entity_type": act.entities["entity_type"].to_numpy(), "entity_id": act.entities["entity_id"].to_numpy(),
                         "claims": claims, "fund_total": fund, "patients": pats})


def _terminal_volume(store: Store, terminals: list[str], act: Activity) -> pd.DataFrame:
    """claims, fund_total and patients (distinct) per terminal, from the claims streamed: per claim
    only a terminal code, the fund and the patient row (``act.pat``) are kept, never the strings.
    The fund is summed by pandas per terminal over its claims in stored order (as a group-by of
    the whole table would), a slice of terminals at a time."""
    if not terminals:
        return pd.DataFrame(columns=["entity_type", "entity_id", "claims", "fund_total", "patients"])
    import pyarrow as pa

    terms = pa.array(terminals, type=pa.string())
    n, batches = table_batches(store, "claims", ["terminal_id", "fund_amount", "patient_id"])
    codes, funds, pats = [], [], []
    at = 0
    for f in batches:
        k = len(f)
        t = index_of(f["terminal_id"], terms)
        m = t >= 0
        codes.append(t[m].astype(np.int32))
        funds.append(f["fund_amount"].to_numpy("float64", na_value=np.nan)[m])
        p = act.pat[at:at + k][m].astype(np.int64)
        p[f["patient_id"].isna().to_numpy()[m]] = -1  # null patient ids are not a patient
        pats.append(p)
        at += k
        del f, t, m
    release_memory()
    tc = np.concatenate(codes) if codes else np.zeros(0, np.int32)
    fd = np.concatenate(funds) if funds else np.zeros(0)
    pt = np.concatenate(pats) if pats else np.zeros(0, np.int64)
    del codes, funds, pats
    nt = len(terminals)
    claims = np.bincount(tc, minlength=nt).astype(float)
    fund = np.zeros(nt)
    people = np.zeros(nt)
    npat = max(len(act.patients), 1)
    for lo, hi in _entity_slices(tc, nt, PAIR_CHUNK):
        sel = (tc >= lo) & (tc < hi)
        s = pd.Series(fd[sel]).groupby(tc[sel]).sum()
        fund[s.index.to_numpy()] = s.to_numpy(float)
        has = sel & (pt >= 0)
        uk = np.sort(tc[has].astype(np.int64) * npat + pt[has])  # distinct pairs by sorting (np.unique hashes: slower here)
        uk = uk[np.r_[True, uk[1:] != uk[:-1]]] if uk.size else uk
        people += np.bincount(uk // npat, minlength=nt)
        del sel, s, has, uk
    v = pd.DataFrame({"claims": claims, "fund_total": fund, "patients": people}, index=pd.Index(terminals, name="entity_id"))
    return v.reset_index().assign(entity_type="terminal")


def _exposure(vol: pd.DataFrame) -> np.ndarray:
    t = vol["entity_type"].to_numpy()
    F = np.maximum(vol["fund_total"].to_numpy(float), 1.0)
    C = np.maximum(vol["claims"].to_numpy(float), 0.5)
    out = np.zeros(len(vol))
    for group in (("institution", "pharmacy", "terminal"), ("doctor",)):
        ref_rows = np.isin(t, ["institution", "pharmacy"] if "institution" in group else ["doctor"])
        act = ref_rows & (vol["claims"].to_numpy(float) > 0)
        if not act.any():
            act = ref_rows if ref_rows.any() else np.ones(len(t), bool)
        fr, cr = float(np.median(F[act])), float(np.median(C[act]))
        m = np.isin(t, group)
        out[m] = 0.5 * np.log(F[m] / fr) + 0.5 * np.log(C[m] / cr)
    return out


def _findings_hazard(att: pd.DataFrame, key: pd.MultiIndex, vol_all: pd.DataFrame,
                     weights: dict[str, float] | None = None, months: int = 1,
                     groups: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, float], np.ndarray]:
    """``F`` per entity, the kind weights, and each attribution row's term of it (``F`` is their sum
    per entity; 0 for a row of an unknown entity, or a rule finding weaker than the rule's strongest
    there). ``F``: the noisy-or hazard ``Σ idf_kind · −ln(1 − s·q)`` of the findings touching
    it (``s`` score, ``q`` share of the finding's claims settled there), each kind weighted by how
    selective it is in this data: ``idf = ln(N / n_kind) / ln N`` with ``N`` the institutions and
    pharmacies and ``n_kind`` those the kind points at, each counted by its share
    (:func:`_soft_support`; a kind that touches everyone tells nothing about anyone). The unit is
    the finding's ``signal`` (:func:`~graphkit.risk.evidence.signal_of`): its kind, or for rule
    violations its rule. Rule violations count by :func:`_rule_terms`, card kinds and witnesses by
    :func:`_concentration_terms`."""
    n_all = len(vol_all)
    row = key.get_indexer(pd.MultiIndex.from_frame(att[["entity_type", "entity_id"]].astype(str)))
    ok = row >= 0
    a = att[ok]
    prov = a["entity_type"].isin(["institution", "pharmacy"]).to_numpy()
    N = max(int(vol_all["entity_type"].isin(["institution", "pharmacy"]).sum()), 2)
    touched = _soft_support(a[prov]) if prov.any() else pd.Series(dtype=float)
    weight = weights if weights is not None else \
        {k: float(np.clip(np.log(N / max(float(touched.get(k, 1.0)), 1.0)) / np.log(N), 0.0, 1.0)) for k in a["signal"].unique()}
    w = a["signal"].map(weight).to_numpy(float)
    rule = (a["kind"] == "rule_violation").to_numpy()
    venue = a["kind"].isin(CARD_KINDS).to_numpy() & ~rule
    if "witness" in a.columns:
        venue |= a["witness"].to_numpy(bool) & ~rule
    plain = ~rule & ~venue
    term = idf_weighted_terms(a["w"].to_numpy(float), w)
    volume, types = vol_all["claims"].to_numpy(float), vol_all["entity_type"].to_numpy(object)
    if venue.any():
        term[venue] = _concentration_terms(a[venue], row[ok][venue], w[venue], volume, types, groups)
    if rule.any():
        term[rule] = _rule_terms(a[rule], row[ok][rule], w[rule], volume, types, months, groups)
    F = np.bincount(row[ok], weights=term, minlength=n_all).astype(float)
    terms = np.zeros(len(att))
    terms[ok] = term
    return F, weight, terms


def _bh_keep(p: np.ndarray, n_tests: int) -> np.ndarray:
    """``1 − q`` per p-value, ``q`` its Benjamini–Hochberg q-value among ``n_tests`` tests (the
    tests not given, e.g. providers without a finding, have p = 1 and rank last).

    >>> _bh_keep(np.array([0.001, 0.5, 0.02]), 10).round(3).tolist()
    [0.99, 0.0, 0.9]
    """
    p = np.asarray(p, float)
    o = np.argsort(p, kind="stable")
    q = p[o] * float(max(n_tests, p.size)) / np.arange(1, p.size + 1)
    q = np.minimum.accumulate(q[::-1])[::-1]
    out = np.empty(p.size)
    out[o] = np.clip(1.0 - q, 0.0, 1.0)
    return out


def _peer_rates(rows: np.ndarray, k: np.ndarray, volume: np.ndarray, of_type: np.ndarray,
                groups: np.ndarray | None) -> np.ndarray:
    """Per row, the rate ``Σ k / Σ volume`` of the entity's peers (``groups``, one label per entity)
    among the entities ``of_type`` — all of them without groups."""
    if groups is None:
        return np.full(rows.size, float(k.sum()) / max(float(volume[of_type].sum()), 1.0))
    gcode, guniq = pd.factorize(np.asarray(groups, object)[of_type])
    gof = np.full(len(volume), -1, np.int64)
    gof[np.flatnonzero(of_type)] = gcode
    gtot = np.bincount(gcode, weights=volume[of_type], minlength=len(guniq))
    g = gof[rows]
    return np.bincount(g, weights=k, minlength=len(gtot))[g] / np.maximum(gtot[g], 1.0)


def _concentration_terms(a: pd.DataFrame, row: np.ndarray, idf: np.ndarray, volume: np.ndarray,
                         types: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """``F`` of the findings that implicate a provider only by concentrating there (:data:`CARD_KINDS`
    and witnesses): per entity and kind, ``Σ idf · −ln(1 − s·q)`` times ``1 − q_BH``, where ``q_BH``
    is the Benjamini–Hochberg q-value, among the entities of its type, of ``c = Σ q`` — the number of
    the kind's leads pointing there — against a Poisson count of mean ``volume × r`` (``r``: the
    leads per claim of the entity's peers). One dead person's card used at a pharmacy is what
    chance gives a pharmacy of its size; five at one pharmacy are not. Returns each row's term.

    >>> a = pd.DataFrame({"kind": ["shared_card"] * 6, "w": [0.9] * 6, "score": [0.9] * 6})
    >>> vol, types, row = np.full(50, 1000.0), np.array(["pharmacy"] * 50, object), np.array([0, 1, 1, 1, 1, 1])
    >>> h = np.bincount(row, weights=_concentration_terms(a, row, np.ones(6), vol, types))
    >>> bool(h[0] < 0.05 < 2.0 < h[1])
    True
    """
    from scipy.special import gammainc

    t = idf_weighted_terms(a["w"].to_numpy(float), idf)
    share = np.divide(a["w"].to_numpy(float), a["score"].to_numpy(float), out=np.zeros(len(a)),
                      where=a["score"].to_numpy(float) > 0)
    # one cell per entity and kind: the leads pointing there, c = Σ share
    cell = pd.DataFrame({"row": row, "kind": a["kind"].to_numpy()}).groupby(["row", "kind"], sort=False).ngroup().to_numpy()
    c = np.bincount(cell, weights=share)
    first = np.unique(cell, return_index=True)[1]
    rows, kinds = np.asarray(row, int)[first], a["kind"].to_numpy(object)[first]
    keep = np.ones(c.size)
    ty = types[rows]
    for tname in pd.unique(ty):
        of_t = types == tname
        if int(of_t.sum()) < 2:
            continue
        for kd in pd.unique(kinds[ty == tname]):
            sel = np.flatnonzero((ty == tname) & (kinds == kd))
            lam = np.maximum(volume[rows[sel]], 1.0) * _peer_rates(rows[sel], c[sel], volume, of_t, groups)
            # P(X ≥ c) for Poisson(λ), continuous in c (the regularised gamma function)
            keep[sel] = _bh_keep(gammainc(np.maximum(c[sel], 1e-9), lam), int(of_t.sum()))
    return t * keep[cell]


def _rule_terms(a: pd.DataFrame, row: np.ndarray, idf: np.ndarray, volume: np.ndarray | None = None,
                types: np.ndarray | None = None, months: int = 1, groups: np.ndarray | None = None) -> np.ndarray:
    """Each rule finding's term of ``F``: per entity and rule, its strongest finding's term
    ``idf · −ln(1 − s·q) · surprise`` (:func:`rule_surprise`: how unlikely the finding's hit
    claims are at the entity's volume in one month), 0 for the rule's other findings there — a rule
    is one test of a provider, however many months it fired in. Its findings are one per provider
    × rule × month, so counted one by one the busiest providers (more months, more lines) gathered
    the most ``F`` from rules that single out no one (item-level rules fire at some rate everywhere).

    >>> a = pd.DataFrame({"signal": ["r", "r", "r", "q"], "w": [0.5, 0.5, 0.5, 0.5]})
    >>> h = np.bincount(np.array([0, 0, 1, 1]), weights=_rule_terms(a, np.array([0, 0, 1, 1]), np.ones(4)))
    >>> bool(h[0] == -np.log(0.5)), bool(h[1] == -2 * np.log(0.5))
    (True, True)
    """
    t = idf_weighted_terms(a["w"].to_numpy(float), idf)
    if volume is not None and types is not None and "claims" in a.columns:
        t = t * rule_surprise(row, a["signal"].to_numpy(object), a["claims"].to_numpy(float),
                              np.asarray(volume, float), np.asarray(types, object), months, groups)
    best = pd.Series(t).groupby([row, a["signal"].to_numpy()], sort=False).idxmax().to_numpy(int)
    out = np.zeros(t.size)
    out[best] = t[best]
    return out


def rule_surprise(rows: np.ndarray, rule: np.ndarray, k: np.ndarray, volume: np.ndarray,
                  types: np.ndarray, months: int = 1, groups: np.ndarray | None = None) -> np.ndarray:
    """How likely each rule finding's ``k`` hit claims at entity ``rows`` are more than chance, in
    ``[0, 1]``: item-level rules fire at some rate everywhere (a data-learnt norm's tail, a legal
    repeat, a catalogue that does not fit), so a few hits at a busy provider are what its volume
    predicts.

    Under the null an entity's hits of a rule in one month are Poisson with mean
    ``λ = volume × r / months`` (``volume``: the entity's claims over the ``months`` of data; ``r``:
    the rule's hit claims over the claims of the entity's peers — ``groups``, one label per entity,
    e.g. its peer group; all entities of its type without). ``p = P(X ≥ k)``. Each rule is one
    family of tests, one per entity of the type and month (``N · months``); the factor is
    ``1 − q``, ``q`` the finding's Benjamini–Hochberg q-value in its family: the false-discovery
    rate of calling it and every finding of the rule at least as surprising a violation. Where a
    rule's hits are chance everywhere (a compliant catalogue), even the most unusual count is
    discounted by how many were tested; where a rule singles out many providers, each counts
    nearly in full. No constant: the rates, ``N``, the months and the family come from the data.

    >>> f = rule_surprise(np.array([0, 1, 2]), np.array(["r", "r", "r"]), np.array([1.0, 1.0, 3.0]),
    ...                   np.array([1000.0, 10.0, 10.0, 10.0] + [10.0] * 96), np.array(["pharmacy"] * 100, object))
    >>> [round(float(x), 2) for x in f]
    [0.0, 0.0, 1.0]
    """
    from scipy.stats import poisson

    months = max(int(months), 1)
    out = np.ones(rows.size)
    ty = types[rows]
    for t in pd.unique(ty):
        of_t = types == t
        tot, N = float(volume[of_t].sum()), int(of_t.sum())
        if tot <= 0 or N < 2:
            continue
        m = ty == t
        for r in pd.unique(rule[m]):
            sel = np.flatnonzero(m & (rule == r))
            lam = np.maximum(volume[rows[sel]], 1.0) * _peer_rates(rows[sel], k[sel], volume, of_t, groups) / months
            # Benjamini–Hochberg over the rule's N · months tests
            out[sel] = _bh_keep(np.exp(poisson.logsf(k[sel] - 1.0, lam)), N * months)
    return out


def _months(day: np.ndarray) -> int:
    """Calendar months the claims cover (first to last, at least 1).

    >>> _months(np.array([19723, 19723 + 40, -1]))  # 2024-01-01 … 2024-02-10; -1 unknown
    2
    """
    d = np.asarray(day)
    d = d[d >= 0]
    if not d.size:
        return 1
    m = d.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return int(m.max() - m.min() + 1)


def _soft_support(att: pd.DataFrame) -> pd.Series:
    """Per signal (kind, or rule), the providers its findings point at, each counted by its share: a
    finding is one lead, pointing at the provider of one of its claims (``q`` = the share of its
    claims there), so the expected number of distinct providers a kind's leads point at is
    ``Σ_e 1 − Π_f (1 − q_fe)``. A provider a ring member happened to visit once among hundreds of
    claims counts ~0, not 1.

    >>> a = pd.DataFrame({"signal": ["r", "r", "r", "d"], "entity_type": ["pharmacy"] * 4,
    ...                   "entity_id": ["Y1", "Y2", "Y1", "Y3"], "score": [0.5] * 4, "w": [0.45, 0.05, 0.5, 0.5]})
    >>> _soft_support(a).round(3).to_dict()
    {'d': 1.0, 'r': 1.1}
    """
    sc = att["score"].to_numpy(float)
    q = np.clip(np.divide(att["w"].to_numpy(float), sc, out=np.zeros(len(att)), where=sc > 0), 0.0, _W_MAX)
    miss = pd.Series(np.log1p(-q), index=att.index).groupby([att["signal"], att["entity_type"], att["entity_id"].astype(str)]).sum()
    return (-np.expm1(miss)).groupby(level=0).sum()


def _prior_groups(types: np.ndarray) -> list[tuple[str, tuple[str, ...]]]:
    """Groups whose prior is calibrated apart: institutions, pharmacies, doctors (institutions and
    pharmacies pooled when either has fewer than 30 members). Terminals have no prior."""
    n_i, n_p = int((types == "institution").sum()), int((types == "pharmacy").sum())
    groups: list[tuple[str, tuple[str, ...]]] = []
    if n_i >= 30 and n_p >= 30:
        groups += [("institution", ("institution",)), ("pharmacy", ("pharmacy",))]
    elif n_i + n_p:
        groups.append(("institution+pharmacy", ("institution", "pharmacy")))
    if (types == "doctor").any():
        groups.append(("doctor", ("doctor",)))
    return groups


_fmt = format_indicator


def _top_indicators(ex: pd.DataFrame, k: int = 3) -> pd.Series:
    hit = ex[ex["excess"] > 0].sort_values(["row", "contribution", "z"], ascending=[True, False, False])
    hit = hit.groupby("row", sort=False).head(k)
    txt = [f"{INDICATORS[n].zh} {n} {_fmt(s, n)} vs {_fmt(m, n)} (z {z:.1f})"
           for n, s, m, z in zip(hit["indicator"], hit["shrunk"], hit["peer_median"], hit["z"])]
    return pd.Series(txt, index=hit["row"].to_numpy()).groupby(level=0).agg("; ".join)


def provider_risk(store: Store, findings: list[Finding], **params: float) -> RiskResult:
    """Score every institution, pharmacy and doctor (and terminals a finding touches).

    ``params`` override :data:`DEFAULTS`. Returns a :class:`RiskResult` whose ``scores`` frame
    is sorted by score (descending) and has the columns :data:`RISK_COLUMNS`.
    """
    findings = scored_findings(findings)
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        from ..errors import ParameterError

        raise ParameterError(f"unknown risk parameter(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    p = {**DEFAULTS, **params}
    # computed once per scan: the indicator_outlier detector may have computed them already
    act, ind, ind_notes = shared_indicators(store)
    notes = list(act.notes)
    ent = act.entities
    notes += ind_notes
    vol = _volume(act, ind)
    people: dict = {}
    att = attributions(store, findings, people_out=people)
    release_memory()
    terminals = sorted(set(att.loc[att["entity_type"] == "terminal", "entity_id"])) if len(att) else []
    vol_all = pd.concat([vol, _terminal_volume(store, terminals, act)], ignore_index=True)
    ex = shared_excess(store, int(p["min_peers"]))
    ne = act.n_entities
    xsum = np.bincount(ex["row"].to_numpy(int), weights=ex["contribution"].to_numpy(float), minlength=ne) if len(ex) else np.zeros(ne)
    ipart = indicator_hazard(xsum, p["cap_indicators"])
    # the indicators' own evidence in the blind share: only what indicator_outlier's benign checks
    # leave of it (care homes' residents, group days, specialties, small providers …); the part
    # against peer groups too small for the detector to test counts unchecked
    iblind = ipart * _surviving_share(act.entities, shared_outlier_leads(store, int(p["min_peers"])), ex, int(p["min_peers"]))
    fe = findings_evidence(att, vol_all, people.get("people"))
    key = pd.MultiIndex.from_frame(vol_all[["entity_type", "entity_id"]].astype(str))
    fe_idx = fe.set_index(["entity_type", "entity_id"]) if len(fe) else None
    fpart = fe_idx["findings"].reindex(key).fillna(0.0).to_numpy(float) if fe_idx is not None else np.zeros(len(vol_all))
    # seeds: evidence beyond the ordinary (findings above the city's flagged share, ρ > 1)
    rho = fe_idx["flagged_ratio"].reindex(key).fillna(0.0).to_numpy(float)[:ne] if fe_idx is not None else np.zeros(ne)
    seed_nats = ipart + np.log(np.maximum(rho, 1.0))
    seed = seed_nats / (1.0 + seed_nats)
    release_memory()
    graph = shared_graph(store)
    release_shared(store)  # the last consumer of the scan: not held after this
    release_memory()
    net = network_evidence(graph, seed, alpha=float(p["alpha"]), cap=p["cap_network"])
    nt = len(vol_all) - ne
    out = vol_all.copy()
    n_all = len(vol_all)
    # findings: flagged claims beyond what this provider's volume carries at the city's rate of each
    # kind, empirical-Bayes shrunk (graphkit.risk.evidence): F = ln(1 + excess), a hazard
    months = _months(act.day)
    pgroup = np.concatenate([_entity_peer_group(ent, int(p["min_peers"])), np.full(nt, "terminal", object)])
    F, kind_weight, terms = _findings_hazard(att, key, vol_all, months=months, groups=pgroup) if len(att) \
        else (np.zeros(n_all), {}, np.zeros(0))
    att = att.assign(hazard=terms)  # each finding's term of F at the entity (graphkit explain)
    # the prior's soft labels leave out the kinds that are themselves a function of the prior's
    # features (indicator_outlier: the indicators), or the prior would be fitted to its own input
    own = att["kind"].isin(PRIOR_EXCLUDED_KINDS).to_numpy() if len(att) else np.zeros(0, bool)
    F_label = (_findings_hazard(att[~own], key, vol_all, weights=kind_weight, months=months, groups=pgroup)[0]
               if own.any() else F) if len(att) else F
    # indirect parts, the prior's features: exposure, indicators, network
    X = np.c_[_exposure(vol_all), np.r_[np.log1p(xsum), np.zeros(nt)],
              np.r_[net["network"].to_numpy(float), np.zeros(nt)]]
    types = vol_all["entity_type"].to_numpy()
    contrib = np.zeros((n_all, len(PARTS)))
    intercept = np.zeros(n_all)
    fits: dict[str, PriorFit] = {}
    for name, group in _prior_groups(types):
        m = np.isin(types, group)
        fit = fit_prior(X[m], -np.expm1(-F_label[m]), ridge=float(p["ridge"]))
        fits[name] = fit
        contrib[m] = fit.contributions(X[m])
        intercept[m] = fit.intercept
    is_term = types == "terminal"
    prior_logit = intercept + contrib.sum(axis=1)
    prior = np.where(is_term, 0.0, logistic(prior_logit))
    lam = float(p["prior_weight"])
    out["intercept"] = np.where(is_term, 0.0, intercept).round(6)
    for j, c in enumerate(PARTS):
        out[c] = np.where(is_term, 0.0, contrib[:, j]).round(6)
    out["prior_logit"] = (out["intercept"] + out["exposure"] + out["indicators"] + out["network"]).round(6)
    out["prior"] = np.where(is_term, 0.0, logistic(out["prior_logit"].to_numpy())).round(9)
    out["findings"] = F.round(6)
    # the blind share λ carries the prior and, at unit weight, the indicator evidence itself: peer
    # indicators are the bureaus' screen for what no detector sees (over-billing), so their weight
    # there is not calibrated on the detectors' findings (docs/risk-model.md, *prior hazard*)
    out["indicator_hazard"] = np.r_[iblind, np.zeros(nt)].round(9)
    blind = -np.log1p(-np.minimum(out["prior"].to_numpy(float), 1 - 1e-12)) + out["indicator_hazard"].to_numpy(float)
    out["prior_hazard"] = (lam * blind).round(9)
    out["hazard"] = (out["prior_hazard"] + out["findings"]).round(9)
    out["score"] = score_of_hazard(out["hazard"].to_numpy(float)).round(9)
    p = {**p, "kind_weight": {k: round(v, 4) for k, v in kind_weight.items()}, "prior_fits": {k: {"intercept": round(v.intercept, 4), "slopes": {a: round(b, 4) for a, b in v.slopes.items()},
                                  "fitted": v.fitted, "positives": round(v.positives, 3), "n": v.n} for k, v in fits.items()}}
    for c, fill in (("finding_count", 0), ("amount_at_risk", 0.0), ("top_kinds", ""), ("people_flagged", 0),
                    ("kinds", 0), ("flagged_ratio", 0.0)):
        col = fe_idx[c].reindex(key) if fe_idx is not None else pd.Series([fill] * len(out))
        out[c] = col.fillna(fill).to_numpy()
    out["finding_count"] = out["finding_count"].astype(int)
    out["kinds"] = out["kinds"].astype(int)
    out["people_flagged"] = out["people_flagged"].astype(int)
    out["amount_at_risk"] = out["amount_at_risk"].astype(float).round(2)
    out["flagged_ratio"] = out["flagged_ratio"].astype(float).round(4)
    out["indicator_excess"] = np.concatenate([xsum, np.zeros(nt)]).round(4)
    out["network_ratio"] = np.concatenate([net["network_ratio"].to_numpy(float), np.zeros(nt)]).round(4)
    out["name"] = np.concatenate([ent["name"].to_numpy(object), np.full(nt, None, object)])
    out["region"] = np.concatenate([ent["region"].to_numpy(object), np.full(nt, None, object)])
    out["peer_group"] = pgroup
    top = _top_indicators(ex)
    out["top_indicators"] = pd.Series(np.arange(len(out))).map(top).astype(object).fillna("").to_numpy()
    out["claims"] = out["claims"].astype(int)
    out["patients"] = out["patients"].astype(int)
    out["fund_total"] = out["fund_total"].round(2)
    out["_row"] = np.arange(len(out))
    out = out.sort_values(["score", "amount_at_risk", "entity_type", "entity_id"], ascending=[False, False, True, True], kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    order = out.pop("_row").to_numpy()
    scores = out[RISK_COLUMNS].reset_index(drop=True)
    return RiskResult(scores, ex, att, net, act, graph, notes, p, order)


def _entity_peer_group(ent: pd.DataFrame, min_peers: int) -> np.ndarray:
    """An entity's peer group: the finest level with at least ``min_peers`` members."""
    label = None
    for lv in peer_levels(ent):
        cnt = lv.map(lv.value_counts()).to_numpy()
        lab = lv.to_numpy()
        label = np.where(cnt >= min_peers, lab, None) if label is None else np.where(pd.isna(label) & (cnt >= min_peers), lab, label)
    last = peer_levels(ent)[-1].to_numpy()
    return np.where(pd.isna(label), last, label).astype(object)
