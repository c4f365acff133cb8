"""Small helpers shared by detectors (entities from claim rows, scoring, money text)."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

from ..findings import Entity, Finding


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
