"""How the parts become one score: a prior calibrated on this data's own findings, plus the findings.

Two kinds of evidence say different things about a provider:

* **Findings** are direct: the score-weighted claims the detectors flagged at a provider,
  per kind, against what its own volume would carry at the city's rate of that kind
  (empirical-Bayes shrunk, :mod:`graphkit.risk.evidence`), give the excess ``x`` and the
  findings hazard ``F = ln(1 + x)`` (so a hub hospital collecting false leads in proportion to
  its volume gains little, and a small pharmacy whose claims are mostly flagged gains a lot).
* **Exposure, indicators and network** are indirect: they say how likely a provider of this
  size, this peer-relative profile and these neighbours is to be involved in *something*. How
  much each of them counts is not a constant fitted to one generator: it is **calibrated on the
  data at hand**, by a logistic regression of the findings' own probability
  ``y = 1 − e^{−F}`` (a soft label) on the standardised parts, with non-negative slopes (each
  part can only raise risk) and a ridge penalty (a part that does not track the findings in
  this data gets a slope near 0). Where the detectors hit big providers more often, volume
  counts; where they hit small pharmacies, it does not. This is weak supervision by the
  detectors, never by labels.

The prior probability ``π = σ(b₀ + Σ bⱼ·xⱼ)`` and the findings combine as a noisy-or:
``L = −ln(1 − π) + F`` and the score is ``L / (1 + L)`` — a monotone map of
``P(involved) = 1 − e^{−L}`` that does not saturate (0.5 ⇔ P = 63 %, 0.9 ⇔ L = 9).

Without any finding in the data the regression has nothing to learn from: then the prior is
exposure and indicators with unit slopes on their standardised scale, and the docs say so.

Examples
--------
>>> import numpy as np
>>> np.round(idf_weighted_hazard(np.array([0.5, 0.5]), np.array([1.0, 0.5]), np.array([0, 1]), 2), 3).tolist()
[0.693, 0.347]
>>> round(float(score_of_hazard(np.array([1.0]))[0]), 3)
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

__all__ = ["idf_weighted_hazard", "idf_weighted_terms", "fit_prior", "PriorFit", "score_of_hazard", "PARTS"]

#: the indirect parts, in the order of the prior's features
PARTS = ("exposure", "indicators", "network")
_W_MAX = 1.0 - 1e-9


def idf_weighted_terms(w: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """Each (finding, entity) weight's term ``idf · −ln(1 − w)`` of ``F`` (``w = s·q``)."""
    return -np.log1p(-np.clip(np.asarray(w, float), 0.0, _W_MAX)) * np.asarray(idf, float)


def idf_weighted_hazard(w: np.ndarray, idf: np.ndarray, row: np.ndarray, n: int) -> np.ndarray:
    """``F`` per entity row: ``Σ idf · −ln(1 − w)`` over the (finding, entity) weights ``w = s·q``."""
    return np.bincount(np.asarray(row, int), weights=idf_weighted_terms(w, idf), minlength=n)


def score_of_hazard(L: np.ndarray) -> np.ndarray:
    """``L / (1 + L)``: the score of a cumulative hazard (never saturates)."""
    L = np.maximum(np.asarray(L, float), 0.0)
    return L / (1.0 + L)


@dataclass
class PriorFit:
    """The calibrated prior of one group of entities."""

    intercept: float
    slopes: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]
    fitted: bool                 # False: no findings to learn from, unit slopes used
    positives: float             # Σ y, the findings' mass the fit learned from
    n: int

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per row and part: slope × standardised value (columns in :data:`PARTS` order)."""
        Z = (X - np.array([self.means[p] for p in PARTS])) / np.array([self.scales[p] for p in PARTS])
        return Z * np.array([self.slopes[p] for p in PARTS])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def fit_prior(X: np.ndarray, y: np.ndarray, *, ridge: float = 1.0) -> PriorFit:
    """Logistic regression of soft labels ``y`` ∈ [0, 1) on the parts ``X`` (n × 3, :data:`PARTS`).

    Slopes are bounded below by 0, the features standardised, the slopes penalised by
    ``ridge · Σ b²`` (a unit-variance Gaussian prior on each slope). With no positive mass the
    prior is unit slopes and the base rate ``1 / (n + 1)``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.c_[rng.normal(size=400), rng.normal(size=400), np.zeros(400)]
    >>> y = (X[:, 0] > 1).astype(float) * 0.9
    >>> f = fit_prior(X, y)
    >>> f.slopes["exposure"] > 1.0, f.slopes["indicators"] < 0.3
    (True, True)
    """
    X = np.asarray(X, float)
    y = np.clip(np.asarray(y, float), 0.0, 1.0)
    n = len(y)
    means = X.mean(axis=0) if n else np.zeros(len(PARTS))
    sd = X.std(axis=0) if n else np.ones(len(PARTS))
    sd = np.where(sd > 1e-12, sd, 1.0)
    mdict = dict(zip(PARTS, map(float, means)))
    sdict = dict(zip(PARTS, map(float, sd)))
    pos = float(y.sum())
    if n == 0 or pos <= 0.0:
        b0 = float(np.log(1.0 / max(n, 1)))
        return PriorFit(b0, {"exposure": 1.0, "indicators": 1.0, "network": 0.0}, mdict, sdict, False, pos, n)
    Z = (X - means) / sd

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = theta[0] + Z @ theta[1:]
        # cross-entropy with soft labels, stable: log(1+e^eta) - y*eta
        lse = np.logaddexp(0.0, eta)
        val = float(np.sum(lse - y * eta)) + ridge * float(np.sum(theta[1:] ** 2))
        p = _sigmoid(eta)
        g0 = float(np.sum(p - y))
        g = Z.T @ (p - y) + 2 * ridge * theta[1:]
        return val, np.r_[g0, g]

    base = min(max(pos / n, 1e-6), 1 - 1e-6)
    theta0 = np.r_[np.log(base / (1 - base)), np.zeros(Z.shape[1])]
    bounds = [(None, None)] + [(0.0, None)] * Z.shape[1]
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", bounds=bounds)
    th = res.x
    return PriorFit(float(th[0]), dict(zip(PARTS, map(float, th[1:]))), mdict, sdict, True, pos, n)
