"""``collusion_ring``, stage 1 (continued) — thin pairs: two people with two joint ambulatory days
where so few pairs can pass that two days beat the unit's own bar (:func:`_thin_pairs`, with the
bar :func:`thin_pair_bar`), for :func:`._ringpairs._mode_pairs`. See :mod:`graphkit.detectors.rings`.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ._ringpairs import _pair_product, _runs, _uniq


def _thin_pairs(
    ex_p: np.ndarray, col_ex: np.ndarray, uinv: np.ndarray, D: np.ndarray, *,
    n_patients: int, thin: int, chunk_flops: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (a, b, joint days, bar) with ≥ ``thin`` (2) joint baskets counted only where such a
    pair could be beyond its unit's bar.

    The bar of a unit (:func:`thin_pair_bar`) is the chance ``p*`` below which fewer than one
    pair of its regulars is expected to meet twice by chance; a person with ``n`` days there
    meets a partner twice with chance at least ``p₂`` with the unit's least frequent regular
    (``p₂`` grows with both day counts), so people above ``p*`` even then can pass with nobody and
    are dropped before any pair is formed: at a hub (thousands of regulars) nobody is left, at a
    quiet clinic the occasional visitors are kept — the product runs over small baskets of few
    people only. ``bar`` of a pair is the mean
    ``-log10 p*`` of the units of its joint days.

    ``ex_p``: person of each (basket, person) entry; ``col_ex``: its basket; ``uinv``: the unit
    of each basket; ``D``: each unit's schedule days.

    >>> a, b, c, bar = _thin_pairs(np.array([0, 1, 0, 1, 2]), np.array([0, 0, 1, 1, 1]),
    ...                            np.array([0, 0]), np.array([100.0]), n_patients=3, thin=2, chunk_flops=10)
    >>> a.tolist(), b.tolist(), c.tolist(), bar.round(2).tolist()
    ([0], [1], [2], [3.4])
    """
    z = np.empty(0, np.int64)
    NP = np.int64(n_patients)
    unit = uinv[col_ex]
    key = unit * NP + ex_p  # ``unit`` ascends (baskets by unit), people ascend within a basket
    o = np.argsort(key, kind="stable")  # runs already in order: cheaper than ``np.unique``
    ukeys, n_up, inv_o = _runs(key[o])
    inv = np.empty_like(inv_o)
    inv[o] = inv_o
    del key, o, inv_o
    n = n_up[inv]  # the entry's person's days at its unit
    reg = n_up >= thin
    pstar = thin_pair_bar(ukeys[reg] // NP, n_up[reg], D)
    with np.errstate(divide="ignore"):
        bar = -np.log10(pstar)
    # p₂ grows with both day counts: a person passes with somebody only if with the unit's
    # least frequent regular
    from scipy.stats import binom

    lo = np.full(len(D), np.iinfo(np.int64).max)
    np.minimum.at(lo, ukeys[reg] // NP, n_up[reg])
    ru = ukeys // NP
    best = np.where(reg, binom.sf(1, np.minimum(n_up, lo[ru]), np.minimum(np.maximum(n_up, lo[ru]) / D[ru], 1.0)), 1.0)
    keep = (best <= pstar[ru] * (1 + 1e-9))[inv]
    if keep.sum() < 2 * thin:
        return z, z, z, np.empty(0)
    kp, kc = ex_p[keep], col_ex[keep]
    # baskets with ≥ 2 such people and people with ≥ thin such baskets
    # ``kc`` ascends (``col_ex`` does): its runs are the baskets
    _, ccount, cinv = _runs(kc)
    ok = ccount[cinv] >= 2
    kp, kc = kp[ok], kc[ok]
    pcount = np.bincount(kp, minlength=n_patients)
    ok = pcount[kp] >= thin
    kp, kc = kp[ok], kc[ok]
    if len(kp) < 2 * thin:
        return z, z, z, np.empty(0)
    people = _uniq(kp)
    prow = np.full(n_patients, -1, np.int64)
    prow[people] = np.arange(len(people))
    cols, _, ccol = _runs(kc)
    Et = sparse.csr_matrix((np.ones(len(kp), np.int32), (prow[kp], ccol)), shape=(len(people), len(cols)))
    a, b, c = _pair_product(Et, Et, window=0, min_co=thin, chunk_flops=chunk_flops)
    if len(a) == 0:
        return z, z, z, np.empty(0)
    cbar = bar[uinv[cols]]
    pbar = np.asarray(Et[a].multiply(Et[b]) @ cbar).ravel() / c
    return people[a], people[b], c, pbar


def thin_pair_bar(unit: np.ndarray, n: np.ndarray, D: np.ndarray, *, max_levels: int = 24) -> np.ndarray:
    """Per unit: the chance ``p*`` a pair of its regulars may have of meeting twice and still be
    listed, such that fewer than one pair is expected to pass by chance.

    A pair with ``n_a, n_b`` days at a unit open ``D`` days meets on ≥ 2 of them with chance
    ``p₂ = P(Binomial(min(n_a, n_b), max(n_a, n_b) / D) ≥ 2)``; a pair passes only when it met
    twice *and* ``p₂ ≤ p*``, so the expected number of chance pairs is ``Σ p₂`` over the pairs of
    regulars with ``p₂ ≤ p*`` — computed over the unit's own regulars and schedule (the discrete
    tail, not a Bonferroni count: pairs that cannot reach ``p*`` cost nothing). ``p*`` is the
    largest ``p₂`` keeping that sum ≤ 1 (0 when the likeliest pairs already exceed it). The
    regulars' day counts are grouped into levels; beyond the ``max_levels`` lowest, ``p*`` stays
    below the first level left out (conservative).

    ``unit``, ``n``: one row per (unit, regular) — its unit index and days there (≥ 2); ``D``:
    schedule days per unit.

    >>> thin_pair_bar(np.zeros(4, np.int64), np.array([2, 2, 2, 3]), np.array([100.0])).round(6).tolist()
    [0.0009]
    >>> thin_pair_bar(np.zeros(800, np.int64), np.full(800, 2), np.array([100.0])).tolist()
    [0.0]
    """
    from scipy.stats import binom

    n_units = len(D)
    out = np.zeros(n_units)
    if len(n) == 0:
        return out
    big = np.int64(int(n.max()) + 1)
    lv, h = np.unique(unit.astype(np.int64) * big + n, return_counts=True)
    lu, ln = lv // big, lv % big
    first = np.searchsorted(lu, np.arange(n_units))
    rank = np.arange(len(lv)) - first[lu]
    cap = np.full(n_units, np.inf)  # p* stays below the first level left out
    over = rank == max_levels
    cap[lu[over]] = (ln[over] / D[lu[over]]) ** 2
    inl = rank < max_levels
    lu, ln, h, rank = lu[inl], ln[inl], h[inl], rank[inl]
    I, J = [], []
    for off in range(max_levels):
        i = np.arange(len(lu) - off)
        j = i + off
        same = lu[i] == lu[j]
        I.append(i[same])
        J.append(j[same])
    i, j = np.concatenate(I), np.concatenate(J)
    cnt = np.where(i == j, h[i] * (h[i] - 1) / 2, h[i] * h[j]).astype(float)
    u = lu[i]
    m, M = np.minimum(ln[i], ln[j]), np.maximum(ln[i], ln[j])
    p2 = binom.sf(1, m, np.minimum(M / D[u], 1.0))
    ok = cnt > 0
    u, p2, cnt = u[ok], p2[ok], cnt[ok]
    o = np.lexsort((p2, u))
    u, p2, cnt = u[o], p2[o], cnt[o]
    cum = np.cumsum(p2 * cnt)
    start = np.searchsorted(u, u)  # first row of each unit
    base = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    within = cum - base <= 1.0
    # equal p₂ must pass together: a level passes only when its whole tie group does
    fine = within & (np.r_[p2[1:] != p2[:-1], True] | (np.r_[u[1:] != u[:-1], True]))
    np.maximum.at(out, u[fine], p2[fine])
    return np.minimum(out, np.nextafter(cap, 0))
