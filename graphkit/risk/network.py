"""Network evidence: risk spreading over the provider–patient–doctor graph (scipy.sparse).

Providers (institutions, pharmacies) are linked through *connectors*: the patients they settle
and the doctors who treat there, weighted by claims. ``P`` (provider → connector) and ``Q``
(connector → provider) are the row-normalised claim counts; ``T = P·Q`` without its diagonal
(a provider is not its own neighbour), renormalised, is a random walk to *other* providers
that share patients; the same walk through doctors is averaged in (half each) for providers
whose doctors also work elsewhere. A personalised PageRank seeded by each provider's own
evidence ``s`` (indicators + findings, never exposure)

    r = (1 − α)·s + α·T·r,     nb = T·r

gives ``nb``: the risk a provider's patients and doctors carry in from elsewhere. Doctors get
``nb`` through their patients (doctor → patient → provider). ``nb`` is compared with the city's
claim-weighted average risk ``r̄`` after empirical-Bayes shrinkage toward ``r̄`` (a provider with
three patients cannot look surrounded by chance): ``x = max(0, nb/r̄ − 1)``, part
``cap · x/(1+x)``. Without any evidence anywhere (``s = 0``), the part is 0 for everyone.

Examples
--------
>>> import numpy as np
>>> np.round(network_part(np.array([0.5, 1.0, 3.0]), 1.0, cap=3.0), 3).tolist()
[0.0, 0.0, 2.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from .activity import Activity

__all__ = ["ProviderGraph", "provider_graph", "network_evidence", "network_part", "count_matrix"]


class ProviderGraph:
    """Sparse transition matrices between entities and connectors (patients, doctors)."""

    def __init__(self, act: Activity) -> None:
        ne, npat = act.n_entities, max(len(act.patients), 1)
        self.n_entities = ne
        self.is_provider = np.isin(act.entities["entity_type"].to_numpy(), ["institution", "pharmacy"])
        self.is_doctor = act.entities["entity_type"].to_numpy() == "doctor"
        # two walks to other providers: through shared patients and through shared doctors (each
        # count matrix and transpose dropped as soon as its walk is built)
        self.walks = []
        for conn, shape in ((act.pat, (ne, npat)), (act.doc, (ne, ne))):
            B = count_matrix(act.prov, conn, shape)
            if conn is act.pat:
                self.claims = np.asarray(B.sum(axis=1)).ravel()
            has = np.asarray(B.sum(axis=1)).ravel() > 0
            P = _rownorm(B)
            Bt = B.T.tocsr()
            del B
            Q = _rownorm(Bt)
            del Bt
            Qt = Q.T.tocsr()
            self_p = np.asarray(P.multiply(Qt).sum(axis=1)).ravel()
            del Qt
            self.walks.append((P, Q, self_p, has & (self_p < 1 - 1e-9)))
            del P, Q
        self.P, self.Q = self.walks[0][0], self.walks[0][1]
        # effective number of patients (1 / Σ P²) for shrinkage
        sq = np.asarray(self.P.multiply(self.P).sum(axis=1)).ravel()
        self.m_eff = np.where(sq > 0, 1.0 / np.where(sq > 0, sq, 1.0), 0.0)
        # doctors: doctor -> patient (their claims) -> provider
        Dp = count_matrix(act.doc, act.pat, (ne, npat))
        self.Pd = _rownorm(Dp)
        sqd = np.asarray(self.Pd.multiply(self.Pd).sum(axis=1)).ravel()
        self.m_eff_d = np.where(sqd > 0, 1.0 / np.where(sqd > 0, sqd, 1.0), 0.0)
        self.npat = npat

    def step(self, r: np.ndarray) -> np.ndarray:
        """``T·r``: the average of ``r`` over the other providers that share a provider's patients
        (and, where it shares doctors with other providers, its doctors: half each)."""
        parts, weights = [], []
        for P, Q, self_p, ok in self.walks:
            raw = P @ (Q @ r) - self_p * r
            rest = 1.0 - self_p
            parts.append(np.where(ok, raw / np.where(ok, rest, 1.0), 0.0))
            weights.append(ok.astype(float))
        wsum = weights[0] + weights[1]
        return np.where(wsum > 0, (parts[0] * weights[0] + parts[1] * weights[1]) / np.where(wsum > 0, wsum, 1.0), 0.0)

    def connector_values(self, r: np.ndarray) -> np.ndarray:
        return self.Q @ r

    def neighbours(self, row: int, r: np.ndarray, k: int = 5) -> pd.DataFrame:
        """The ``k`` providers contributing most to ``nb`` of entity ``row`` (weight × risk)."""
        if self.is_doctor[row]:
            w = np.asarray((self.Pd[row] @ self.Q).todense()).ravel()
        else:
            w = np.asarray((self.P[row] @ self.Q).todense()).ravel()
            w[row] = 0.0
            tot = w.sum()
            w = w / tot if tot > 0 else w
        contrib = w * r
        idx = np.argsort(-contrib, kind="stable")[:k]
        idx = idx[w[idx] > 0]
        return pd.DataFrame({"row": idx, "weight": w[idx], "risk": r[idx], "contribution": contrib[idx]})


#: claims per slice of rows in :func:`count_matrix` (bounds its sort's memory)
COUNT_CHUNK = 1 << 21


def count_matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """CSR matrix of how many claims have each (row, col) (pairs with a negative side skipped):
    the matrix ``csr_matrix((ones, (rows, cols)))`` sums to, built a slice of rows at a time and
    stacked, so that the one-entry-per-claim form never exists for all claims at once.

    >>> count_matrix(np.array([1, 0, 1, -1, 1]), np.array([2, 0, 2, 1, 0]), (2, 3)).toarray().tolist()
    [[1.0, 0.0, 0.0], [1.0, 0.0, 2.0]]
    """
    nr, nc = shape
    ok = (rows >= 0) & (cols >= 0)
    cnt = np.bincount(rows[ok], minlength=nr) if nr else np.zeros(0, np.int64)
    del ok
    cum = np.cumsum(cnt)
    total = int(cum[-1]) if len(cum) else 0
    cuts = np.searchsorted(cum, np.arange(COUNT_CHUNK, total, COUNT_CHUNK), side="left") + 1
    edges = np.unique(np.r_[0, np.minimum(cuts, nr), nr]).astype(np.int64)
    parts = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (rows >= lo) & (rows < hi) & (cols >= 0)
        parts.append(_counts_csr(rows[sel] - lo, cols[sel], (int(hi - lo), nc)))
        del sel
    if not parts:
        return sparse.csr_matrix(shape)
    out = sparse.vstack(parts, format="csr") if len(parts) > 1 else parts[0]
    out.sum_duplicates()
    return out


def _counts_csr(r: np.ndarray, c: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """Canonical CSR (sorted columns, one entry per pair) of how many times each (r, c) occurs:
    one sort of the pair keys ``r · ncols + c``, not a COO matrix summed.

    >>> _counts_csr(np.array([1, 0, 1]), np.array([2, 0, 2]), (2, 3)).toarray().tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]
    """
    nr, nc = shape
    if nr * nc >= 1 << 62:
        m = sparse.csr_matrix((np.ones(r.size), (r, c)), shape=shape)
        m.sum_duplicates()
        return m
    key = r.astype(np.int64) * nc + c
    key.sort()
    new = np.empty(key.size, bool)
    new[:1] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    start = np.flatnonzero(new)
    uk = key[start]
    data = np.diff(np.append(start, key.size)).astype(float)
    del key, new, start
    indptr = np.zeros(nr + 1, np.int64)
    np.cumsum(np.bincount(uk // nc, minlength=nr), out=indptr[1:])
    return sparse.csr_matrix((data, uk % nc, indptr), shape=shape)


def _rownorm(m: sparse.csr_matrix) -> sparse.csr_matrix:
    s = np.asarray(m.sum(axis=1)).ravel()
    inv = np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), 0.0)
    return sparse.diags(inv) @ m


def provider_graph(act: Activity) -> ProviderGraph:
    """Build the :class:`ProviderGraph` of an :class:`~graphkit.risk.activity.Activity`."""
    return ProviderGraph(act)


def network_part(nb: np.ndarray, ref: float, *, cap: float) -> np.ndarray:
    """``cap · x/(1+x)`` with ``x = max(0, nb/ref − 1)`` (0 everywhere when ``ref`` is 0)."""
    if ref <= 0:
        return np.zeros_like(np.asarray(nb, float))
    x = np.maximum(np.asarray(nb, float) / ref - 1.0, 0.0)
    return cap * x / (1.0 + x)


def _shrink(nb: np.ndarray, m: np.ndarray, within: float, ref: float, mask: np.ndarray) -> np.ndarray:
    """Empirical-Bayes shrinkage of weighted means ``nb`` (``m`` effective connectors) to ``ref``."""
    ok = mask & (m > 0)
    if ok.sum() < 2 or within <= 0:
        return nb
    noise = float(np.mean(within / m[ok]))
    tau2 = max(float(np.var(nb[ok])) - noise, 0.0)
    if tau2 <= 1e-15:
        return np.where(ok, ref, nb)
    n0 = within / tau2
    w = np.where(ok, m / (m + n0), 0.0)
    return w * nb + (1 - w) * ref


def network_evidence(g: ProviderGraph, seed: np.ndarray, *, alpha: float = 0.5, cap: float = 3.0,
                     iterations: int = 30) -> pd.DataFrame:
    """Per entity row: ``neighbour_risk`` (nb, shrunk), the city reference and the network part.

    ``seed``: each entity's own evidence in [0, 1) (providers' values are used).
    """
    s = np.where(g.is_provider, np.clip(seed, 0.0, 1.0), 0.0)
    r = s.copy()
    for _ in range(iterations):
        r_new = (1 - alpha) * s + alpha * np.where(g.is_provider, g.step(r), 0.0)
        if np.max(np.abs(r_new - r), initial=0.0) < 1e-9:
            r = r_new
            break
        r = r_new
    nb = np.where(g.is_provider, g.step(r), 0.0)
    v = g.connector_values(r)
    nb_d = g.Pd @ v
    nb = np.where(g.is_doctor, nb_d, nb)
    w = g.claims
    ref = float((w * r).sum() / w.sum()) if w.sum() > 0 else 0.0
    # within-connector variance of the values a provider averages over
    conn_w = np.asarray(g.Q.sum(axis=1)).ravel() > 0
    within = float(np.var(v[conn_w])) if conn_w.any() else 0.0
    within_d = within
    shr = _shrink(nb, g.m_eff, within, ref, g.is_provider)
    shr = np.where(g.is_doctor, _shrink(nb, g.m_eff_d, within_d, ref, g.is_doctor), shr)
    part = network_part(shr, ref, cap=cap)
    return pd.DataFrame({"row": np.arange(g.n_entities), "propagated": r, "neighbour_risk": shr,
                         "network_ratio": shr / ref if ref > 0 else np.zeros(g.n_entities), "network": part})
