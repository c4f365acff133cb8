"""Inpatient-stay detectors: ``phantom_stay`` (挂床住院) and ``split_stay`` lives in :mod:`.splits` (re-exported here).

Both are keyed for stable ids: ``phantom_stay`` on the stay's claim, ``split_stay`` on the
patient and the chain's institution(s).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..findings import Entity, Finding
from ..params import Param
from ..projections import _haversine_km, _provider_places, projection, provider_key
from . import register
from ._common import log_amount, squash, yuan

__all__ = ["phantom_stays", "split_stays", "stay_overlaps"]

DAY_S = 86_400

OVERLAP_COLUMNS = [
    "stay_claim", "stay_patient", "stay_institution", "stay_start", "stay_end", "stay_fund", "claim_id",
    "via", "patient_id", "card_id", "claim_type", "provider_type", "provider_id", "start_time", "fund_amount",
    "region_stay", "region_other", "distance_km",
]


def _codes_together(*series: pd.Series) -> list[np.ndarray]:
    """Integer codes of several string columns in one shared code space (-1 for null)."""
    codes, _ = pd.factorize(pd.concat(series, ignore_index=True))
    out, k = [], 0
    for x in series:
        out.append(codes[k:k + len(x)].astype(np.int64))
        k += len(x)
    return out


def _secs(s: pd.Series) -> np.ndarray:
    return s.to_numpy("datetime64[s]").astype(np.int64)


def _place_distance(stay_inst: np.ndarray, other_type: np.ndarray, other_id: np.ndarray, store: Any,
                    province_km: float = 300.0, prefecture_km: float = 80.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(region of stay institution, region of other provider, km between them).

    Great-circle km from coordinates when both are known, else a lower bound from 6-digit
    region codes (other province → ``province_km``, other prefecture → ``prefecture_km``).
    """
    places = _provider_places(store)
    pk = pd.Index(places["provider_type"].str.cat(places["provider_id"].astype("string"), sep=":"))
    ia = pk.get_indexer(pd.Series(stay_inst, dtype="string").radd("institution:"))
    ib = pk.get_indexer(pd.Series(other_type, dtype="string").str.cat(pd.Series(other_id, dtype="string"), sep=":"))

    def col(name: str, ix: np.ndarray) -> np.ndarray:
        v = places[name].to_numpy(dtype=object if name == "region" else np.float64, na_value=None if name == "region" else np.nan)
        out = np.where(ix >= 0, v[np.maximum(ix, 0)], None if name == "region" else np.nan)
        return out

    ra, rb = col("region", ia), col("region", ib)
    d = _haversine_km(col("lat", ia).astype(float), col("lon", ia).astype(float), col("lat", ib).astype(float), col("lon", ib).astype(float))
    sa = pd.Series(ra, dtype="string").fillna("")
    sb = pd.Series(rb, dtype="string").fillna("")
    fb = np.where(sa.str[:2].to_numpy() != sb.str[:2].to_numpy(), province_km,
                  np.where(sa.str[:4].to_numpy() != sb.str[:4].to_numpy(), prefecture_km, 0.0))
    fb = np.where((sa == "").to_numpy() | (sb == "").to_numpy(), 0.0, fb)
    return sa.to_numpy(dtype=object), sb.to_numpy(dtype=object), np.where(np.isnan(d), fb, d)


@projection("stay_overlaps")
def stay_overlaps(store: Any, *, edge_days: int = 1) -> pd.DataFrame:
    """Claims settled during another institution's inpatient stay of the same person, or on
    that person's card by someone else (family not yet filtered: column ``patient_id``)."""
    cols = ["claim_id", "card_id", "patient_id", "claim_type", "institution_id", "pharmacy_id", "start_time",
            "end_time", "fund_amount"]
    claims = store.table("claims", cols)
    cards = store.table("cards", ["card_id", "patient_id"])
    is_stay = ((claims["claim_type"] == "inpatient") & claims["end_time"].notna()).fillna(False).to_numpy()
    if not is_stay.any():
        return pd.DataFrame({c: pd.Series([], dtype="object") for c in OVERLAP_COLUMNS})
    pc, card_holder = _codes_together(claims["patient_id"], cards["patient_id"])
    claim_card, card_card = _codes_together(claims["card_id"], cards["card_id"])
    holder_of = np.full(max(int(claim_card.max()), int(card_card.max(initial=-1))) + 2, -1, dtype=np.int64)
    holder_of[card_card[card_card >= 0]] = card_holder[card_card >= 0]
    hc = np.where(claim_card >= 0, holder_of[claim_card], -1)
    t = _secs(claims["start_time"])
    t0 = t.min()
    rel = t - t0
    S = np.int64(1) << np.int64(36)
    stay = np.flatnonzero(is_stay & (pc >= 0))
    s0 = t[stay]
    s1 = _secs(claims["end_time"])[stay]
    day0 = (s0 // DAY_S) * DAY_S
    day1 = (s1 // DAY_S) * DAY_S
    lo = np.maximum(s0, day0 + edge_days * DAY_S) - t0
    hi = np.minimum(s1, day1 + (1 - edge_days) * DAY_S) - t0
    ok = hi > lo
    stay, lo, hi = stay[ok], lo[ok], hi[ok]
    parts = []
    for via, code, sel in (("person", pc, pc >= 0), ("card", hc, (hc >= 0) & (hc != pc))):
        idx = np.flatnonzero(sel)
        key = code[idx] * S + rel[idx]
        o = np.argsort(key, kind="stable")
        key, idx = key[o], idx[o]
        a = np.searchsorted(key, pc[stay] * S + lo, side="left")
        b = np.searchsorted(key, pc[stay] * S + hi, side="left")
        n = b - a
        if n.sum() == 0:
            continue
        rep = np.repeat(np.arange(stay.size), n)
        pos = np.repeat(a - np.cumsum(n) + n, n) + np.arange(n.sum())
        parts.append(pd.DataFrame({"s": stay[rep], "c": idx[pos], "via": via}))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype="object") for c in OVERLAP_COLUMNS})
    m = pd.concat(parts, ignore_index=True)
    m = m[m["s"].to_numpy() != m["c"].to_numpy()]
    s_inst = claims["institution_id"].to_numpy(dtype=object)[m["s"].to_numpy()]
    c_inst = claims["institution_id"].to_numpy(dtype=object)[m["c"].to_numpy()]
    m = m[~(pd.Series(c_inst).fillna("") == pd.Series(s_inst).fillna("\x00")).to_numpy()]
    m = m.drop_duplicates(["s", "c"]).reset_index(drop=True)
    s, c = m["s"].to_numpy(), m["c"].to_numpy()
    sub = claims.iloc[c]
    ptype, pid = provider_key(sub)
    out = pd.DataFrame(
        {
            "stay_claim": claims["claim_id"].to_numpy(dtype=object)[s],
            "stay_patient": claims["patient_id"].to_numpy(dtype=object)[s],
            "stay_institution": claims["institution_id"].to_numpy(dtype=object)[s],
            "stay_start": claims["start_time"].to_numpy()[s],
            "stay_end": claims["end_time"].to_numpy()[s],
            "stay_fund": claims["fund_amount"].to_numpy(dtype=np.float64)[s],
            "claim_id": sub["claim_id"].to_numpy(dtype=object),
            "via": m["via"].to_numpy(dtype=object),
            "patient_id": sub["patient_id"].to_numpy(dtype=object),
            "card_id": sub["card_id"].to_numpy(dtype=object),
            "claim_type": sub["claim_type"].to_numpy(dtype=object),
            "provider_type": ptype.to_numpy(dtype=object),
            "provider_id": pid.to_numpy(dtype=object),
            "start_time": sub["start_time"].to_numpy(),
            "fund_amount": sub["fund_amount"].to_numpy(dtype=np.float64),
        }
    )
    out["region_stay"], out["region_other"], out["distance_km"] = _place_distance(
        out["stay_institution"].to_numpy(), out["provider_type"].to_numpy(), out["provider_id"].to_numpy(), store)
    return out[OVERLAP_COLUMNS]


def _family_of(store: Any) -> pd.Series:
    fam = store.projection("family_groups")
    return pd.Series(fam["family"].to_numpy(), index=fam["patient_id"].to_numpy())


@register(
    "phantom_stay",
    [
        Param("edge_days", 1, "int", low=0, high=3, doc="calendar days tolerated at admission and at discharge"),
        Param("min_claims", 1, "int", low=1, doc="claims settled elsewhere during the stay"),
        Param("card_weight", 0.7, "float", low=0.0, high=1.0, doc="weight of claims by someone else on the patient's card"),
        Param("far_km", 50.0, "float", low=0.0, doc="a claim this far from the stay's institution counts as another city"),
    ],
)
def phantom_stays(
    store: Any,
    *,
    edge_days: int = 1,
    min_claims: int = 1,
    card_weight: float = 0.7,
    far_km: float = 50.0,
) -> list[Finding]:
    """Inpatient stays during which the patient (or their card) was settled elsewhere.

    Examples
    --------
    >>> from graphkit.store import open_store                        # doctest: +SKIP
    >>> phantom_stays(open_store("store"))[0].evidence["overlaps"][0]  # doctest: +SKIP
    """
    ov = store.projection("stay_overlaps", edge_days=edge_days)
    if ov.empty:
        return []
    fam = _family_of(store)
    fa = ov["patient_id"].map(fam).to_numpy(dtype=np.float64, na_value=np.nan)
    fb = ov["stay_patient"].map(fam).to_numpy(dtype=np.float64, na_value=np.nan)
    family = (ov["via"].to_numpy() == "card") & (fa == fb) & ~np.isnan(fa)
    ov = ov[~family]
    findings: list[Finding] = []
    for stay_claim, rows in ov.groupby("stay_claim", sort=True):
        if len(rows) < min_claims:
            continue
        r0 = rows.iloc[0]
        pid, inst = r0["stay_patient"], r0["stay_institution"]
        w = np.where(rows["via"].to_numpy() == "card", card_weight, 1.0)
        days = rows["start_time"].dt.floor("D").nunique()
        far = float(rows["distance_km"].max())
        n_far = int((rows["distance_km"] >= far_km).sum())
        inpatient = int((rows["claim_type"] == "inpatient").sum())
        fund_other = float(rows["fund_amount"].sum())
        fund = fund_other + float(r0["stay_fund"])
        los = (pd.Timestamp(r0["stay_end"]) - pd.Timestamp(r0["stay_start"])).total_seconds() / DAY_S
        z = (0.45 * float(w.sum()) + 0.25 * days + 0.35 * min(n_far, 3) + 0.5 * min(inpatient, 2)
             + 0.05 * log_amount(fund))
        others = rows.drop_duplicates(["provider_type", "provider_id"])
        ents = [Entity("patient", pid, "patient"), Entity("institution", inst, "venue")]
        ents += [Entity(p, q, "elsewhere") for p, q in zip(others["provider_type"], others["provider_id"])]
        users = sorted(set(rows["patient_id"].dropna()) - {pid})
        ents += [Entity("patient", u, "card_user") for u in users]
        ents += [Entity("card", c, "card") for c in sorted(rows["card_id"].dropna().unique())]
        s0, s1 = pd.Timestamp(r0["stay_start"]), pd.Timestamp(r0["stay_end"])
        where = "外地" if n_far else "其他机构/药店"
        findings.append(
            Finding.create(
                "phantom_stay",
                key=("stay", stay_claim),
                score=squash(z),
                amount_at_risk=fund,
                start=s0,
                end=s1,
                entities=ents,
                claims=[stay_claim, *rows["claim_id"]],
                summary=(
                    f"参保人{pid}在{inst}住院期间（{s0:%m-%d}至{s1:%m-%d}）于{where}结算{len(rows)}次"
                    f"（{days}天，最远{far:.0f}公里），疑似挂床住院，基金{yuan(fund)}"
                    f" / patient {pid} settled {len(rows)} time(s) elsewhere on {days} day(s), up to {far:.0f} km away,"
                    f" during an inpatient stay at {inst} ({s0:%Y-%m-%d} to {s1:%Y-%m-%d})"
                ),
                evidence={
                    "stay": {"claim_id": stay_claim, "institution": inst, "admitted": s0, "discharged": s1,
                             "days": round(los, 1), "fund": float(r0["stay_fund"])},
                    "overlaps": [
                        {"claim_id": r.claim_id, "time": r.start_time, "provider": f"{r.provider_type}:{r.provider_id}",
                         "claim_type": r.claim_type, "via": r.via, "patient_id": r.patient_id,
                         "region": r.region_other, "distance_km": round(float(r.distance_km), 1),
                         "fund": float(r.fund_amount)}
                        for r in rows.sort_values("start_time").itertuples(index=False)
                    ],
                    "days_elsewhere": int(days),
                    "max_distance_km": far,
                    "claims_far": n_far,
                    "by_card_users": users,
                    "fund_elsewhere": fund_other,
                },
            )
        )
    return findings
from .splits import split_stays  # noqa: E402,F401  (re-exported: split_stay moved to .splits)
