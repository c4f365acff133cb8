"""``impossible_travel`` (异地不可能出行): one card or person settled at places too far apart
for the time between them.

For each pair of consecutive settlements of a card (and of a person across cards) at
different providers, the minimum door-to-door travel time is
``min(ground_overhead + d / ground_speed, flight_overhead + d / flight_speed)``;
a pair is impossible when the gap is shorter than that. Distances come from provider
coordinates (``lat``/``lon``) or, without them, a lower bound from region codes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..findings import Entity, Finding
from ..params import Param
from . import register
from ._common import log_amount, squash, yuan

__all__ = ["impossible_travels"]


def _min_hours(d: np.ndarray, p: dict[str, float]) -> np.ndarray:
    ground = p["ground_overhead_hours"] + d / p["ground_speed_kmh"]
    flight = p["flight_overhead_hours"] + d / p["flight_speed_kmh"]
    return np.minimum(ground, flight)


@register(
    "impossible_travel",
    [
        Param("min_distance_km", 50.0, "float", low=0.0, doc="ignore pairs closer than this"),
        Param("ground_speed_kmh", 200.0, "float", low=1.0, doc="fastest ground travel (high-speed rail)"),
        Param("ground_overhead_hours", 0.5, "float", low=0.0, doc="door-to-door overhead on the ground"),
        Param("flight_speed_kmh", 800.0, "float", low=1.0, doc="cruise speed of a flight"),
        Param("flight_overhead_hours", 3.0, "float", low=0.0, doc="airport overhead of a flight"),
        Param("max_gap_hours", 24.0, "float", low=0.1, high=240.0, doc="only consecutive settlements closer in time"),
    ],
)
def impossible_travels(
    store: Any,
    *,
    min_distance_km: float = 50.0,
    ground_speed_kmh: float = 200.0,
    ground_overhead_hours: float = 0.5,
    flight_speed_kmh: float = 800.0,
    flight_overhead_hours: float = 3.0,
    max_gap_hours: float = 24.0,
) -> list[Finding]:
    """Cards (and people) settled at two distant places within an impossible time.

    Examples
    --------
    >>> from graphkit.store import open_store                   # doctest: +SKIP
    >>> impossible_travels(open_store("store"))[0].evidence["pairs"][0]  # doctest: +SKIP
    """
    p = dict(
        ground_speed_kmh=ground_speed_kmh,
        ground_overhead_hours=ground_overhead_hours,
        flight_speed_kmh=flight_speed_kmh,
        flight_overhead_hours=flight_overhead_hours,
    )
    findings: list[Finding] = []
    seen_claims: set[tuple[str, str]] = set()
    for by in ("card_id", "patient_id"):
        pairs = store.projection("travel_pairs", max_gap_hours=max_gap_hours, by=by)
        if by == "patient_id":  # only what the per-card pass cannot see: pairs across cards
            pairs = pairs[pairs["card_a"] != pairs["card_b"]]
        need = _min_hours(pairs["distance_km"].to_numpy(), p)
        gap = np.maximum(pairs["gap_hours"].to_numpy(), 1 / 60)
        bad = (pairs["distance_km"].to_numpy() >= min_distance_km) & (gap < need)
        v = pairs[bad].assign(required_hours=need[bad], ratio=need[bad] / gap[bad])
        fresh = np.array([(a, b) not in seen_claims for a, b in zip(v["claim_a"], v["claim_b"])], dtype=bool)
        v = v[fresh] if len(v) else v
        seen_claims.update(zip(v["claim_a"], v["claim_b"]))
        for key, rows in v.groupby("key", sort=True):
            claims = pd.unique(pd.concat([rows["claim_a"], rows["claim_b"]]))
            fund = float(rows["fund_a"].sum() + rows["fund_b"].sum())
            worst = rows.sort_values("ratio", ascending=False).iloc[0]
            z = 0.6 * len(rows) + 0.35 * float(np.log(rows["ratio"].max())) + 0.05 * log_amount(fund)
            providers = pd.unique(pd.concat([rows["provider_a"], rows["provider_b"]]))
            ents = []
            if by == "card_id":
                ents.append(Entity("card", key, "card"))
                ents += [Entity("patient", x, "settled_person") for x in pd.unique(pd.concat([rows["patient_a"], rows["patient_b"]]))]
            else:
                ents.append(Entity("patient", key, "settled_person"))
                ents += [Entity("card", x, "card") for x in pd.unique(pd.concat([rows["card_a"], rows["card_b"]]))]
            ents += [Entity(pv.split(":", 1)[0], pv.split(":", 1)[1], "venue") for pv in providers]
            subject = f"医保卡{key}" if by == "card_id" else f"参保人{key}"
            subject_en = f"card {key}" if by == "card_id" else f"person {key}"
            findings.append(
                Finding.create(
                    "impossible_travel",
                    key=(by, key),
                    score=squash(z),
                    amount_at_risk=fund,
                    start=rows["time_a"].min(),
                    end=rows["time_b"].max(),
                    entities=ents,
                    claims=claims,
                    summary=(
                        f"{subject}在{worst.gap_hours * 60:.0f}分钟内于相距{worst.distance_km:.0f}公里的两地结算"
                        f"（共{len(rows)}次不可能出行），基金{yuan(fund)}"
                        f" / {subject_en} settled {worst.distance_km:.0f} km apart within {worst.gap_hours * 60:.0f} min"
                        f" ({len(rows)} impossible pair(s))"
                    ),
                    evidence={
                        "pairs": [
                            {
                                "claim_a": r.claim_a,
                                "claim_b": r.claim_b,
                                "time_a": r.time_a,
                                "time_b": r.time_b,
                                "provider_a": r.provider_a,
                                "provider_b": r.provider_b,
                                "region_a": r.region_a,
                                "region_b": r.region_b,
                                "distance_km": round(float(r.distance_km), 1),
                                "gap_minutes": round(float(r.gap_hours) * 60, 1),
                                "required_minutes": round(float(r.required_hours) * 60, 1),
                            }
                            for r in rows.itertuples(index=False)
                        ],
                        "max_ratio": float(rows["ratio"].max()),
                    },
                )
            )
    return findings
