"""Inpatient-stay detectors: ``phantom_stay`` (挂床住院) and ``split_stay`` lives in :mod:`.splits` (re-exported here).

Both are keyed for stable ids: ``phantom_stay`` on the stay's claim, ``split_stay`` on the
patient and the chain's institution(s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..findings import Entity, Finding
from ..params import Param
from ..projections import _haversine_km, _provider_places, projection, provider_key
from . import register
from ._card_checks import infants_without_card
from ._common import report_p_param, yuan
from ._stayservice import city_dx_chance, stay_condition_evidence, stay_service_check  # registers diagnosis_counts

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

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


def _at(s: pd.Series, idx: np.ndarray) -> np.ndarray:
    """``s.to_numpy(dtype=object)[idx]`` without converting the whole column."""
    return s.take(idx).to_numpy(dtype=object)


def _secs(s: pd.Series) -> np.ndarray:
    return s.to_numpy("datetime64[s]").astype(np.int64)


def _place_distance(stay_inst: np.ndarray, other_type: np.ndarray, other_id: np.ndarray, store: Store,
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
def stay_overlaps(store: Store, *, edge_days: int = 1) -> pd.DataFrame:
    """Claims settled during another institution's inpatient stay of the same person, or on
    that person's card by someone else (family not yet filtered: column ``patient_id``)."""
    cols = ["claim_id", "card_id", "patient_id", "claim_type", "institution_id", "pharmacy_id", "start_time",
            "end_time", "fund_amount"]
    # only the claims of people with a stay, or on their cards, can overlap one: the stays' people
    # first (a few percent of the claims), then the claims of those people or cards alone
    people = store.table_where("claims", ["patient_id"], [("claim_type", "==", "inpatient"), ("end_time", "notnull"),
                                                          ("patient_id", "notnull")])["patient_id"]
    cards = store.table("cards", ["card_id", "patient_id"])
    if people.empty:
        return pd.DataFrame({c: pd.Series([], dtype="object") for c in OVERLAP_COLUMNS})
    people = people.unique()
    their_cards = cards["card_id"][cards["patient_id"].isin(people).fillna(False).to_numpy(bool)].dropna().unique()
    where = [[("patient_id", "in", list(people))]] + ([[("card_id", "in", list(their_cards))]] if len(their_cards) else [])
    claims = store.table_where("claims", cols, where)
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
    # only the claims of people with a stay (on their own or on their card) can overlap one
    inpatient = np.zeros(max(int(pc.max()), int(hc.max())) + 2, bool)
    inpatient[pc[stay]] = True
    for via, code, sel in (("person", pc, pc >= 0), ("card", hc, (hc >= 0) & (hc != pc))):
        idx = np.flatnonzero(sel & inpatient[code])
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
    s_inst = _at(claims["institution_id"], m["s"].to_numpy())
    c_inst = _at(claims["institution_id"], m["c"].to_numpy())
    m = m[~(pd.Series(c_inst).fillna("") == pd.Series(s_inst).fillna("\x00")).to_numpy()]
    m = m.drop_duplicates(["s", "c"]).reset_index(drop=True)
    s, c = m["s"].to_numpy(), m["c"].to_numpy()
    sub = claims.iloc[c]
    ptype, pid = provider_key(sub)
    out = pd.DataFrame(
        {
            "stay_claim": _at(claims["claim_id"], s),
            "stay_patient": _at(claims["patient_id"], s),
            "stay_institution": _at(claims["institution_id"], s),
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


def _family_of(store: Store) -> pd.Series:
    fam = store.projection("family_groups")
    return pd.Series(fam["family"].to_numpy(), index=fam["patient_id"].to_numpy())


def _households(store: Store, people: set[str]) -> dict[str, set[str]]:
    """person -> address/phone tokens (unregistered households share them)."""
    ct = store.table("contacts", ["patient_id", "kind", "value"])
    ct = ct[ct["kind"].isin(["address", "phone"]).fillna(False).to_numpy(bool) & ct["value"].notna().to_numpy(bool)]
    ct = ct[ct["patient_id"].astype(str).isin(people).to_numpy(bool)]
    out: dict[str, set[str]] = {}
    for pid, kind, val in zip(ct["patient_id"].astype(str), ct["kind"].astype(str), ct["value"].astype(str)):
        out.setdefault(pid, set()).add(f"{kind}:{val}")
    return out


#: overlap categories, each with its own base rate per stay-day
CATEGORIES = ("near", "far", "inpatient", "card")


def _category(ov: pd.DataFrame, far_km: float) -> np.ndarray:
    via_card = ov["via"].to_numpy() == "card"
    inp = ov["claim_type"].to_numpy() == "inpatient"
    far = ov["distance_km"].to_numpy(float) >= far_km
    return np.where(via_card, "card", np.where(inp, "inpatient", np.where(far, "far", "near"))).astype(object)


@register(
    "phantom_stay",
    [
        Param("edge_days", 1, "int", low=0, high=3, doc="calendar days tolerated at admission and at discharge"),
        Param("far_km", 50.0, "float", low=0.0, doc="a claim this far from the stay's institution counts as another city"),
        Param("benign_weight", 0.25, "float", low=0.0, high=1.0, doc="score factor when a legal explanation fits (partly: its square root)"),
        report_p_param("stays"),
    ],
    needs=("time:day",),
    prefers={"time:hour": "with dates only, claims on the admission and discharge days are never counted (edge_days ≥ 1)"},
)
def phantom_stays(
    store: Store,
    *,
    edge_days: int = 1,
    far_km: float = 50.0,
    benign_weight: float = 0.25,
    report_p: float = 0.05,
) -> list[Finding]:
    """Inpatient stays during which the patient (or their card) was settled elsewhere, beyond this city's rate.

    Examples
    --------
    >>> from graphkit.store import open_store                          # doctest: +SKIP
    >>> phantom_stays(open_store("store"))[0].evidence["null"]["rate"]  # doctest: +SKIP
    """
    from scipy.stats import binom

    from ..profile import time_precision
    from ._common import benign_factor, surprise, tiered_score
    from ._links import institution_links
    from .splits import dx_group

    # admissions (their rows only), overlaps and diagnosis counts (their columns only): each read
    # apart holds less than one read of every claim's columns for all of them
    base = store
    adm = store.projection("inpatient_admissions")
    adm = adm[adm["end_time"].notna() & adm["patient_id"].notna()]
    precision = time_precision(adm["start_time"]) if len(adm) else None
    degraded = precision == "day" and edge_days < 1
    edge = max(edge_days, 1) if precision == "day" else edge_days
    ov = store.projection("stay_overlaps", edge_days=edge)
    # diagnoses: the city's share of each group among non-inpatient claims; the stays' (admissions)
    # and the overlapping claims' (one indexed read)
    dx_chance = city_dx_chance(store.projection("diagnosis_counts"))
    dx_rows = store.claims_by_id(ov["claim_id"].dropna().astype(str).unique(), ["diagnosis_code"]) if len(ov) else None
    dx_of = pd.concat([pd.Series(adm["diagnosis_code"].to_numpy(object), index=adm["claim_id"].astype(str).to_numpy(object)),
                       pd.Series(dtype=object) if dx_rows is None else
                       pd.Series(dx_rows["diagnosis_code"].to_numpy(object), index=dx_rows["claim_id"].astype(str).to_numpy(object))])
    dx_of = dx_of[~dx_of.index.duplicated()]
    store = base  # the claims are not read again
    # interior calendar days of every stay (the exposure of the null)
    d0 = adm["start_time"].dt.floor("D")
    d1 = adm["end_time"].dt.floor("D")
    interior = ((d1 - d0).dt.days + 1 - 2 * edge).clip(lower=0).to_numpy(np.int64)
    exposure = pd.Series(interior, index=adm["claim_id"].astype(str).to_numpy(object))
    n_stays = int((interior > 0).sum())
    if ov.empty or n_stays == 0:
        return []
    # registered family using the hospitalised holder's card is legal (家庭共济): never counted
    fam = _family_of(store)
    fa = ov["patient_id"].map(fam).to_numpy(dtype=np.float64, na_value=np.nan)
    fb = ov["stay_patient"].map(fam).to_numpy(dtype=np.float64, na_value=np.nan)
    family = (ov["via"].to_numpy() == "card") & (fa == fb) & ~np.isnan(fa)
    n_family = pd.Series(family).groupby(ov["stay_claim"].astype(str).to_numpy()).sum()
    # so is a newborn without a card of its own settled on the parent's (新生儿随父母结算)
    on_card = np.flatnonzero((ov["via"].to_numpy() == "card") & ~family)
    infant = np.zeros(len(ov), dtype=bool)
    infant[on_card] = infants_without_card(store, ov["patient_id"].iloc[on_card], ov["start_time"].iloc[on_card])
    n_infant = pd.Series(infant).groupby(ov["stay_claim"].astype(str).to_numpy()).sum()
    ov = ov[~family & ~infant].reset_index(drop=True)
    if ov.empty:
        return []
    ov["stay_claim"] = ov["stay_claim"].astype(str)
    ov["cat"] = _category(ov, far_km)
    ov["day"] = ov["start_time"].dt.floor("D")
    # explained claims: at an institution linked to the stay's (its branch: a consultation), or at
    # one the stay's institution referred the patient to during the stay (外院会诊/检查)
    links = institution_links(store, adm=adm)
    lb = np.array([links.basis(a, b, bases=("name", "group", "roster")) if t == "institution" else None
                   for a, b, t in zip(ov["stay_institution"], ov["provider_id"], ov["provider_type"])], dtype=object)
    ref = store.table("referrals", ["patient_id", "from_institution_id", "to_institution_id", "referred_at"])
    rk = ov[["stay_patient", "stay_institution", "provider_id", "stay_start", "stay_end"]].astype({"stay_patient": str})
    rr = rk.reset_index().merge(ref.astype({"patient_id": str}), left_on=["stay_patient", "stay_institution", "provider_id"],
                                right_on=["patient_id", "from_institution_id", "to_institution_id"])
    rr = rr[(rr["referred_at"] >= rr["stay_start"]) & (rr["referred_at"] <= rr["stay_end"])]
    consult = np.zeros(len(ov), bool)
    consult[rr["index"].to_numpy(np.int64)] = True
    ov["explained"] = np.where(pd.notna(lb), "linked_institution", np.where(consult, "referred_consultation", None))
    # care the stay buys outside (dual-channel pharmacy, outside exam): the stay's own condition, at
    # providers the city's other inpatients use that way during their stays
    ov = ov.join(stay_condition_evidence(ov, dx_of, dx_chance))
    # the null: per category, the city's share of interior stay-days with a claim elsewhere, estimated
    # over the stays it does not flag (iterated), so phantom stays do not raise their own bar
    cnt = ov[ov["explained"].isna()].drop_duplicates(["stay_claim", "cat", "day"]).groupby(["stay_claim", "cat"]).size()
    cnt = cnt.unstack(fill_value=0).reindex(columns=list(CATEGORIES), fill_value=0)
    L = exposure.reindex(cnt.index).fillna(0).to_numpy(np.int64)
    K = cnt.to_numpy(np.int64)
    total_days = float(exposure.sum())
    flag = np.zeros(len(cnt), bool)
    for _ in range(20):
        q = np.maximum(K[~flag].sum(axis=0) / max(total_days - L[flag].sum(), 1.0), 0.5 / max(total_days, 1.0))
        lp = np.where(K > 0, binom.logsf(K - 1, L[:, None], q[None, :]) / np.log(10), 0.0).sum(axis=1)
        new = surprise(lp, n_stays) > 0
        if (new == flag).all():
            break
        flag = new
    rate = dict(zip(CATEGORIES, q.tolist()))
    lp_of = pd.Series(lp, index=cnt.index)
    fam_members = set(fam.index.astype(str))
    findings: list[Finding] = []
    # only stays with counted claims that pass the bar (or report_p) are reported: test them alone
    listed = (np.asarray(surprise(lp, n_stays)) > 0) | (lp <= np.log10(max(report_p, 1e-300)))
    ov = ov[ov["stay_claim"].isin(set(cnt.index[listed])).to_numpy(bool)]
    households = _households(store, set(ov["stay_patient"].astype(str)) | set(ov["patient_id"].dropna().astype(str)))
    col = _Columns(ov)
    for stay_claim, at in sorted(ov.groupby("stay_claim", sort=True).indices.items()):
        first = at[0]
        pid, inst = str(col.stay_patient[first]), str(col.stay_institution[first])
        cnt_at = at[col.counted[at]]  # claims not explained by a linked or referred institution
        log10p = float(lp_of.get(stay_claim, 0.0))
        s = float(surprise(log10p, n_stays))
        if len(cnt_at) == 0 or (s <= 0 and log10p > np.log10(max(report_p, 1e-300))):
            continue
        checks = _phantom_checks(col, at, cnt_at, pid, households, fam_members, int(n_family.get(stay_claim, 0)),
                                 int(n_infant.get(stay_claim, 0)), precision, edge, benign_weight)
        checks.insert(-1 if precision == "day" else len(checks),
                      stay_service_check(col, cnt_at, dx_group(pd.Series([dx_of.get(stay_claim)], dtype="string"))[0],
                                         benign_weight))
        score = tiered_score(log10p, n_stays) * benign_factor(checks)
        if score <= 0.0:
            continue
        days = len(np.unique(col.day[cnt_at]))
        dist = col.distance_km[cnt_at]
        far = float(dist[~np.isnan(dist)].max()) if (~np.isnan(dist)).any() else float("nan")
        n_far = int((dist >= far_km).sum())
        fund_other = float(np.nansum(col.fund_amount[cnt_at]))
        stay_fund = float(col.stay_fund[first])
        fund = fund_other + stay_fund
        s0, s1 = pd.Timestamp(col.stay_start[first]), pd.Timestamp(col.stay_end[first])
        los = (s1 - s0).total_seconds() / DAY_S
        ents = [Entity("patient", pid, "patient"), Entity("institution", inst, "venue")]
        ents += [Entity(p, q_, "elsewhere") for p, q_ in
                 dict.fromkeys(zip(col.provider_type[cnt_at], col.provider_id[cnt_at]))]
        users = sorted({str(x) for x in col.patient_id[cnt_at] if not pd.isna(x)} - {pid})
        ents += [Entity("patient", u, "card_user") for u in users]
        ents += [Entity("card", c, "card") for c in sorted({str(x) for x in col.card_id[cnt_at] if not pd.isna(x)})]
        where = "外地" if n_far else "其他机构/药店"
        k_by: dict[str, int] = {}
        for c, _ in dict.fromkeys(zip(col.cat[cnt_at], col.day[cnt_at])):
            k_by[c] = k_by.get(c, 0) + 1
        k_by = dict(sorted(k_by.items()))
        findings.append(
            Finding.create(
                "phantom_stay",
                key=("stay", stay_claim),
                score=score,
                amount_at_risk=fund,
                start=s0,
                end=s1,
                entities=ents,
                claims=[stay_claim, *(str(x) for x in col.claim_id[cnt_at])],
                summary=(
                    f"参保人{pid}在{inst}住院期间（{s0:%m-%d}至{s1:%m-%d}）于{where}结算{len(cnt_at)}次"
                    f"（{days}天，最远{far:.0f}公里），疑似挂床住院，基金{yuan(fund)}"
                    f" / patient {pid} settled {len(cnt_at)} time(s) elsewhere on {days} day(s), up to {far:.0f} km away,"
                    f" during an inpatient stay at {inst} ({s0:%Y-%m-%d} to {s1:%Y-%m-%d})"
                ),
                evidence={
                    "stay": {"claim_id": stay_claim, "institution": inst, "admitted": s0, "discharged": s1,
                             "days": round(los, 1), "interior_days": int(exposure.get(stay_claim, 0)),
                             "fund": stay_fund},
                    "overlaps": [
                        {"claim_id": str(col.claim_id[i]), "time": pd.Timestamp(col.start_time[i]),
                         "provider": f"{col.provider_type[i]}:{col.provider_id[i]}",
                         "claim_type": col.claim_type[i], "via": col.via[i], "patient_id": col.patient_id[i],
                         "category": col.cat[i], "region": col.region_other[i],
                         "distance_km": round(float(col.distance_km[i]), 1),
                         "fund": float(col.fund_amount[i]), "explained": col.explained[i],
                         "same_condition": None if pd.isna(col.same_condition[i]) else bool(col.same_condition[i]),
                         "provider_serves_stays": bool(col.service_provider[i])}
                        for i in at[_by_time(col.start_time[at])]
                    ],
                    "days_elsewhere": int(days),
                    "max_distance_km": far,
                    "claims_far": n_far,
                    "by_card_users": users,
                    "fund_elsewhere": fund_other,
                    "time_precision": precision,
                    "null": {
                        "method": ("binomial tail per category (near / far / inpatient elsewhere / someone else on the card)"
                                   " of days with a claim elsewhere among the stay's interior days, vs the city's share of"
                                   " interior stay-days with such a claim (estimated without the stays it flags)"),
                        "rate": {k: round(v, 8) for k, v in rate.items()},
                        "observed_days": {k: int(v) for k, v in k_by.items()},
                        "interior_days": int(exposure.get(stay_claim, 0)),
                        "log10_p": round(log10p, 4), "n_tests": n_stays, "surprise": round(s, 4),
                        "edge_days": int(edge), "edge_days_raised_for_dates_only": bool(degraded),
                    },
                    "benign_checks": checks,
                },
            )
        )
    return findings


class _Columns:
    """The overlap rows as plain arrays (one conversion; each stay reads its positions)."""

    def __init__(self, ov: pd.DataFrame) -> None:
        for c in ("stay_patient", "stay_institution", "provider_type", "provider_id", "patient_id", "card_id", "cat",
                  "claim_id", "via", "claim_type", "region_other", "explained"):
            setattr(self, c, ov[c].to_numpy(dtype=object))
        for c in ("stay_start", "stay_end", "start_time", "day"):
            setattr(self, c, ov[c].to_numpy())
        for c in ("distance_km", "fund_amount", "stay_fund", "dx_chance", "service_log10p"):
            setattr(self, c, ov[c].to_numpy(dtype=np.float64))
        self.same_condition = ov["same_condition"].to_numpy(dtype=object)
        self.service_provider = ov["service_provider"].to_numpy(dtype=bool)
        self.service_k = ov["service_k"].to_numpy(dtype=np.int64)
        self.service_m = ov["service_m"].to_numpy(dtype=np.int64)
        self.counted = ov["explained"].isna().to_numpy(bool)


def _by_time(t: np.ndarray) -> np.ndarray:
    """Positions of ``t`` in time order, as ``DataFrame.sort_values`` orders a datetime column
    (its default quicksort, missing times last)."""
    mask = np.isnat(t)
    idx = np.arange(len(t))
    return np.concatenate([idx[~mask][t[~mask].argsort(kind="quicksort")], idx[mask]])


def _phantom_checks(col: "_Columns", at: np.ndarray, cnt_at: np.ndarray, pid: str, households: dict[str, set[str]],
                    fam_members: set[str], n_family: int, n_infant: int, precision: str | None, edge: int,
                    w: float) -> list[dict]:
    """The benign checks of one stay: ``at`` its overlap rows, ``cnt_at`` the counted ones (positions in ``col``)."""
    from ._common import benign_check

    checks = []
    if n_family:
        checks.append(benign_check("registered_family", "登记家庭成员共济用卡", "ruled_out",
                                   f"{n_family} claim(s) by registered family on the card not counted"))
    else:
        checks.append(benign_check("registered_family", "登记家庭成员共济用卡", "ruled_out", "no claim by registered family"))
    checks.append(benign_check("newborn_on_parent_card", "新生儿/婴幼儿随父母结算", "ruled_out",
                               f"{n_infant} claim(s) on the card by an infant without a card of its own not counted"
                               if n_infant else "no claim by an infant on the card"))
    card = cnt_at[col.via[cnt_at] == "card"]
    if len(card):
        mine = households.get(pid, set())
        same = [u for u in (str(x) for x in col.patient_id[card] if not pd.isna(x)) if households.get(u, set()) & mine]
        share = len(same) / len(card)
        if share > 0:
            checks.append(benign_check("household_card_use", "同住家人用卡（未登记共济）", "partial",
                                       f"{len(same)} of {len(card)} card uses by people sharing an address/phone", w ** (0.5 * share)))
        else:
            checks.append(benign_check("household_card_use", "同住家人用卡（未登记共济）", "ruled_out",
                                       "card users share no address or phone with the holder"))
    n_expl = int((~col.counted[at]).sum())
    if n_expl:
        checks.append(benign_check("consultation_elsewhere", "院区间会诊/外院检查", "explains" if len(cnt_at) == 0 else "partial",
                                   f"{n_expl} claim(s) at a linked institution or one the stay's institution referred to:"
                                   " not counted", 1.0 if len(cnt_at) else 0.0))
    else:
        checks.append(benign_check("consultation_elsewhere", "院区间会诊/外院检查", "ruled_out",
                                   "no claim at a linked or referred institution"))
    near_ph = sum(1 for c, t in zip(col.cat[cnt_at], col.claim_type[cnt_at]) if c == "near" and isinstance(t, str) and t == "pharmacy")
    if len(cnt_at) and near_ph == len(cnt_at):
        has_kin = pid in fam_members or bool(households.get(pid))
        if has_kin:
            checks.append(benign_check("relative_buys_medicine", "亲属代购药品", "partial",
                                       "only nearby pharmacy purchases, and the patient has registered family or a household",
                                       w ** 0.5))
        else:
            checks.append(benign_check("relative_buys_medicine", "亲属代购药品", "ruled_out",
                                       "only pharmacy purchases, but no registered family or household"))
    else:
        checks.append(benign_check("relative_buys_medicine", "亲属代购药品", "ruled_out",
                                   "claims elsewhere other than nearby pharmacy purchases"))
    checks.append(benign_check("admission_discharge_days", "入院/出院当日结算", "ruled_out",
                               f"claims within {edge} calendar day(s) of admission or discharge not counted"))
    if precision == "day":
        checks.append(benign_check("dates_only", "仅有日期（无时刻）", "not_testable",
                                   "times are dates only: overlap judged by whole interior days"))
    return checks


from .splits import split_stays  # noqa: E402,F401  (re-exported: split_stay moved to .splits)
