"""Small helpers shared by detectors (entities from claim rows, scoring, money text)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pandas as pd

from ..findings import Entity, Finding

if TYPE_CHECKING:  # annotation only
    from ..params import Param
    from graphkit.store.base import Store


def squash(z: float) -> float:
    """Map a non-negative evidence strength to a score in [0, 1)."""
    return float(1.0 - math.exp(-max(z, 0.0)))


def yuan(x: float) -> str:
    return f"{x:,.2f}元"


def venue_entities(rows: pd.DataFrame, limit: int = 20) -> list[Entity]:
    """Institutions/pharmacies (and doctors) where the rows' claims were settled, busiest first."""
    out: list[Entity] = []
    if "provider_type" in rows.columns:
        top = rows.groupby(["provider_type", "provider_id"], sort=False)["claim_id"].count().sort_values(ascending=False)
        for (ptype, pid), _ in top.head(limit).items():
            if isinstance(pid, str):
                out.append(Entity(ptype, pid, "venue"))
    if "doctor_id" in rows.columns:
        docs = rows["doctor_id"].dropna().value_counts()
        out.extend(Entity("doctor", d, "treating") for d in docs.head(limit).index)
    return out


def span(times: Iterable) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    s = pd.Series(list(times) if not isinstance(times, pd.Series) else times)
    s = pd.to_datetime(s).dropna()
    if s.empty:
        return None, None
    return s.min(), s.max()


def claims_time_precision(store: "Store") -> str:
    """The claims' time precision, ``second`` … ``day`` (the store's data profile when it has one).

    >>> class _S:
    ...     def profile(self): return {"time": {"claims.start_time": {"precision": "hour"}}}
    >>> claims_time_precision(_S())
    'hour'
    """
    from ..profile import time_precision

    prof = getattr(store, "profile", None)
    if callable(prof):
        try:
            p = prof()
            got = (p.get("time") or {}).get("claims.start_time") if isinstance(p, dict) else None
            got = got.get("precision") if isinstance(got, dict) else got
            if got in ("second", "minute", "hour", "day"):
                return got
        except Exception:  # noqa: BLE001 - the profile is an optional accelerator
            pass
    return time_precision(store.table("claims", ["start_time"])["start_time"]) or "day"


def log_amount(x: float) -> float:
    return float(np.log1p(max(x, 0.0) / 100.0))


def rows_finding(
    kind: str,
    key: tuple,
    rows: pd.DataFrame,
    *,
    strength: float,
    entities: list[Entity],
    summary: str,
    evidence: dict,
) -> Finding:
    """A finding resting on claim ``rows`` (claim_id, start_time, fund_amount, provider and
    doctor columns): amount = their fund, period = their span, venues appended to ``entities``."""
    start, end = span(rows["start_time"])
    return Finding.create(
        kind,
        key=key,
        score=squash(strength),
        amount_at_risk=float(rows["fund_amount"].sum()),
        start=start,
        end=end,
        entities=entities + venue_entities(rows),
        claims=rows["claim_id"],
        summary=summary,
        evidence=evidence,
    )


# --- calibration and benign explanations: the contract every detector follows -----------------
#
# A detector scores a candidate by how surprising it is *in this data set*: a p-value (or
# an empirical tail) against a null computed from the data at hand (a Poisson/binomial rate
# estimated on the same bundle, a permutation, a peer group, an empirical distribution over
# all comparable units). ``surprise_score`` turns that into a score in [0, 1) that does not
# saturate; ``evidence["null"]`` says what the null was. Legal behaviours that look like
# the pattern are tested from the data and recorded in ``evidence["benign_checks"]``.

BENIGN_OUTCOMES = ("ruled_out", "partial", "explains", "not_testable")


def surprise(log10_p: float | np.ndarray, n_tests: int = 1) -> float | np.ndarray:
    """Decades of surprise beyond the multiple-testing bar: ``max(0, -log10 p - log10 n_tests)``.

    >>> round(float(surprise(-5.0, n_tests=100)), 6)
    3.0
    >>> float(surprise(-1.0, n_tests=100))
    0.0
    """
    s = -np.asarray(log10_p, dtype="float64") - np.log10(max(int(n_tests), 1))
    s = np.maximum(s, 0.0)
    return float(s) if s.ndim == 0 else s


def surprise_score(s: float | np.ndarray) -> float | np.ndarray:
    """Map decades of surprise ``s`` (see :func:`surprise`) to a score ``s / (1 + s)`` in [0, 1).

    0.5 = ten times rarer than the multiple-testing bar, 0.9 = 10⁹ times; it never saturates,
    so strong candidates keep their order.

    >>> [round(float(surprise_score(x)), 3) for x in (0.0, 1.0, 9.0, 99.0)]
    [0.0, 0.5, 0.9, 0.99]
    """
    x = np.maximum(np.asarray(s, dtype="float64"), 0.0)
    out = x / (1.0 + x)
    return float(out) if out.ndim == 0 else out


def benign_check(check: str, zh: str, outcome: str, detail: str = "", factor: float = 1.0) -> dict:
    """One legal explanation a detector tested, for ``evidence["benign_checks"]``.

    ``outcome``: ``ruled_out`` (tested; it does not explain the pattern), ``partial`` (explains
    part: the score is multiplied by ``factor``), ``explains`` (the pattern is this legal
    behaviour: multiplied by ``factor``, usually small, or the candidate is dropped),
    ``not_testable`` (the data lacks what the test needs; said, not guessed).

    >>> benign_check("care_home", "养老机构集中结算", "ruled_out", "3 of 40 cards held by residents aged 80+")["outcome"]
    'ruled_out'
    """
    if outcome not in BENIGN_OUTCOMES:
        raise ValueError(f"benign check outcome must be one of {BENIGN_OUTCOMES}; got {outcome!r}")
    if not 0.0 <= factor <= 1.0:
        raise ValueError(f"benign check factor must be in [0, 1]; got {factor!r}")
    return {"check": check, "zh": zh, "outcome": outcome, "detail": detail,
            "factor": round(float(factor), 4) if outcome in ("partial", "explains") else 1.0}


def benign_factor(checks: Iterable[dict]) -> float:
    """Product of the factors of the checks that (partly) explain the pattern.

    >>> benign_factor([benign_check("a", "甲", "partial", factor=0.5), benign_check("b", "乙", "ruled_out")])
    0.5
    """
    f = 1.0
    for c in checks:
        if c["outcome"] in ("partial", "explains"):
            f *= float(c["factor"])
    return f


def tiered_score(log10_p: float, n_tests: int, *, floor: float = 0.05) -> float:
    """A score that ranks leads both beyond and below the multiple-testing bar.

    Beyond the bar (``surprise > 0``): ``floor + (1 - floor) · surprise_score(surprise)``; below
    it, ``floor · (-log10 p) / bar`` (``bar = log10 n_tests``): weak leads stay listed, ordered by
    their evidence, and always below every lead beyond the bar.

    >>> tiered_score(-2.0, 10_000) < 0.05 < tiered_score(-5.0, 10_000) < tiered_score(-9.0, 10_000) < 1
    True
    """
    s = float(surprise(log10_p, n_tests))
    if s > 0:
        return floor + (1.0 - floor) * float(surprise_score(s))
    bar = max(float(np.log10(max(int(n_tests), 1))), 1e-9)
    return floor * min(max(-float(log10_p), 0.0) / bar, 1.0)


def report_p_param(what: str) -> Param:
    """The ``report_p`` parameter of detectors that list leads below the multiple-testing bar.

    >>> report_p_param("stays").doc
    'stays below the multiple-testing bar are still listed (score < 0.05) when their own p-value is this small'
    """
    from ..params import Param

    return Param("report_p", 0.05, "float", low=0.0, high=1.0,
                 doc=f"{what} below the multiple-testing bar are still listed (score < 0.05) when their own p-value is this small")
