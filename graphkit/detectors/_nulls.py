"""Tail probabilities (as log10) for the nulls detectors compute on the data at hand.

Every function returns ``log10 P`` (≤ 0) so that tiny probabilities stay exact; feed it to
:func:`graphkit.detectors._common.surprise`.

Examples
--------
>>> round(float(poisson_log10_sf(3, 0.1)), 3)        # P(X >= 3 | lambda = 0.1)
-3.811
>>> round(float(fisher_log10([-2.0, -2.0])), 3)       # two independent p = 0.01
-2.991
>>> float(empirical_log10_tail(np.array([1, 1, 1, 2]), 2))  # 1 of 4 values >= 2
-0.6020599913279624
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import binom, chi2, poisson

__all__ = ["poisson_log10_sf", "binom_log10_sf", "fisher_log10", "empirical_log10_tail", "geometric_log10_tail"]

_LN10 = np.log(10.0)


def poisson_log10_sf(k: np.ndarray | float, lam: np.ndarray | float) -> np.ndarray | float:
    """log10 P(X ≥ k) for X ~ Poisson(lam) (0 when k ≤ 0)."""
    k = np.asarray(k, dtype="float64")
    lam = np.maximum(np.asarray(lam, dtype="float64"), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        sf = poisson.logsf(k - 1, lam)
        # far in the tail logsf underflows: the first term, P(X = k), is then the whole tail
        sf = np.where(np.isfinite(sf), sf, poisson.logpmf(k, lam))
    out = np.where(k <= 0, 0.0, np.maximum(sf / _LN10, -1e6))
    return float(out) if out.ndim == 0 else out


def binom_log10_sf(k: np.ndarray | float, n: np.ndarray | float, p: np.ndarray | float) -> np.ndarray | float:
    """log10 P(X ≥ k) for X ~ Binomial(n, p) (0 when k ≤ 0).

    >>> round(float(binom_log10_sf(2, 2, 0.1)), 3)
    -2.0
    """
    k = np.asarray(k, dtype="float64")
    p = np.clip(np.asarray(p, dtype="float64"), 1e-300, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sf = binom.logsf(k - 1, n, p)
        sf = np.where(np.isfinite(sf), sf, binom.logpmf(k, n, p))
    out = np.where(k <= 0, 0.0, np.maximum(sf / _LN10, -1e6))
    return float(out) if out.ndim == 0 else out


def fisher_log10(log10_ps: Sequence[float] | np.ndarray) -> float:
    """Fisher's combination of independent tests: log10 of P(χ²(2m) ≥ -2 Σ ln p_i)."""
    lp = np.minimum(np.asarray(log10_ps, dtype="float64"), 0.0)
    if lp.size == 0:
        return 0.0
    x = -2.0 * float(lp.sum()) * _LN10
    return float(min(0.0, chi2.logsf(x, 2 * lp.size) / _LN10))


def empirical_log10_tail(values: np.ndarray, x: np.ndarray | float) -> np.ndarray | float:
    """log10 of the share of ``values`` that are ≥ ``x`` (the unit tested is one of ``values``,
    so the share is never 0 for an observed x; clipped to 1/len(values))."""
    v = np.sort(np.asarray(values, dtype="float64"))
    x = np.asarray(x, dtype="float64")
    if v.size == 0:
        out = np.zeros_like(x)
    else:
        ge = v.size - np.searchsorted(v, x, side="left")
        out = np.log10(np.maximum(ge, 1) / v.size)
    return float(out) if out.ndim == 0 else out


def geometric_log10_tail(x: np.ndarray | float, mean_excess: float) -> np.ndarray | float:
    """log10 P(H ≥ x) for H = 1 + G, G geometric on {0, 1, …} with mean ``mean_excess``: each
    extra unit (household on a phone, card of a person) an independent event at the data's rate.

    >>> round(float(geometric_log10_tail(4, 0.001)), 3)
    -9.001
    """
    m = max(float(mean_excess), 1e-12)
    q = m / (1.0 + m)
    x = np.asarray(x, dtype="float64")
    out = np.maximum(x - 1.0, 0.0) * np.log10(q)
    return float(out) if out.ndim == 0 else out
