"""``impossible_travel`` (异地不可能出行): one card or person settled at places too far apart
for the time between them — judged only as far as the data allows.

For each pair of consecutive settlements of a card (and of a person across cards) at two
providers (projection ``travel_pairs``):

* **Places.** A provider's own coordinates, else its region's centroid (bundle ``regions``
  table, else the national gazetteer, else its region's geolocated providers); an unplaceable
  code is unknown and its pairs are never judged. A centroid is not the provider's door, so
  the distance used is a lower bound: ``max(0, d − r_a − r_b)`` with each place's radius
  (:mod:`graphkit.places`): even the nearest points of the two areas are that far apart.
* **Times.** A written time is a truncation: the true time lies in ``[t, t + unc)`` with
  ``unc`` a day for dates, an hour for hour stamps (:func:`graphkit.profile.uncertainty_from_profile`,
  per value). The largest possible true gap (in either order) is
  ``max(gap + unc_b, unc_a − gap)``.
* **Physics.** The least door-to-door time over ``d`` km is
  ``min(d / road_speed, rail_overhead + d / rail_speed, flight_overhead + d / flight_speed)``.
  A pair is impossible only when even the largest possible gap is shorter. With dates only
  this never holds in China (a day is enough to fly anywhere), so the detector needs times
  to the hour: on a dates-only bundle the scan skips it and says why. At hour precision two
  settlements stamped in the same hour are < 1 h apart: 300 km still cannot be covered
  (rail ≥ 1.36 h), 60 km can.

Score: decades of surprise of the implied speed (lower-bound distance over largest gap)
against this data's own consecutive-settlement speeds (a robust log-normal fit: median and
MAD of log10 speed over all judged pairs), Bonferroni-corrected over the keys judged, plus the
decades by which physics is violated (log10 of least travel time over largest gap); then
multiplied by the factors of the benign checks (``evidence["benign_checks"]``).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..findings import Entity, Finding
from ..params import Param
from ..profile import PRECISION_SECONDS
from ..projections import travel_pairs_by
from . import register
from ._common import benign_check, benign_factor, surprise, surprise_score, yuan
from ._travel_checks import flow_check, flow_context

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["impossible_travels", "min_travel_hours", "gap_text", "same_brand"]


def min_travel_hours(d: np.ndarray, p: dict[str, float]) -> np.ndarray:
    """Least door-to-door hours over ``d`` km by road, rail or air.

    >>> p = dict(road_speed_kmh=120.0, rail_speed_kmh=350.0, rail_overhead_hours=0.5,
    ...          flight_speed_kmh=800.0, flight_overhead_hours=2.0)
    >>> [round(float(h), 2) for h in min_travel_hours(np.array([0.0, 48.0, 300.0, 3000.0]), p)]
    [0.0, 0.4, 1.36, 5.75]
    """
    d = np.asarray(d, dtype="float64")
    road = d / p["road_speed_kmh"]
    rail = p["rail_overhead_hours"] + d / p["rail_speed_kmh"]
    flight = p["flight_overhead_hours"] + d / p["flight_speed_kmh"]
    return np.minimum(road, np.minimum(rail, flight))


def gap_text(max_gap_s: float, unc_s: float) -> tuple[str, str]:
    """The time between two settlements at the data's precision (never "0 minutes").

    >>> gap_text(3600, 3600), gap_text(7200, 3600), gap_text(660, 60)
    (('同一小时内', 'within the same hour'), ('2小时内', 'within 2 h'), ('11分钟内', 'within 11 min'))
    """
    if unc_s >= PRECISION_SECONDS["day"]:
        days = max(1, math.ceil(max_gap_s / 86400))
        return ("同一日", "on the same day") if days == 1 else (f"{days}日内", f"within {days} days")
    if unc_s >= PRECISION_SECONDS["hour"]:
        hours = max(1, math.ceil(max_gap_s / 3600))
        return ("同一小时内", "within the same hour") if hours == 1 else (f"{hours}小时内", f"within {hours} h")
    minutes = max(1, math.ceil(max_gap_s / 60))
    return (f"{minutes}分钟内", f"within {minutes} min")


_REMOTE = re.compile(r"互联网|网上|线上|远程|在线|电商")
_FACILITY = re.compile(r"(医院|卫生院|诊所|药房|药店|门诊部|医疗中心|中心)")


def _brand_name(name: Any) -> str | None:
    """A name without its bracketed branch part (益丰大药房（历下店）→ 益丰大药房)."""
    if not isinstance(name, str) or not name.strip():
        return None
    return re.sub(r"[（(].*?[)）]", "", name.strip()) or None


def same_brand(a: dict, b: dict) -> bool:
    """Two providers of one brand: the same chain, or one name is the other's with a branch
    suffix (仁和医院 / 仁和医院平阴分院), or equal without the bracketed branch part.

    >>> same_brand({"name": "仁和医院"}, {"name": "仁和医院平阴分院"}), same_brand({"name": "济南市第一人民医院"}, {"name": "济南市第二人民医院"})
    (True, False)
    """
    ca, cb = a.get("chain"), b.get("chain")
    if isinstance(ca, str) and ca.strip() and ca == cb:
        return True
    na, nb = _brand_name(a.get("name")), _brand_name(b.get("name"))
    if not na or not nb:
        return False
    if na == nb:
        return True
    short, long_ = sorted((na, nb), key=len)
    return len(short) >= 3 and long_.startswith(short) and bool(_FACILITY.search(short))


def _providers(store: Store) -> pd.DataFrame:
    """provider key ("type:id") → name, kind, chain."""
    inst = store.table("institutions", ["institution_id", "name", "kind"])
    ph = store.table("pharmacies", ["pharmacy_id", "name", "chain"])
    a = pd.DataFrame({"key": "institution:" + inst["institution_id"].astype(str), "name": inst["name"],
                      "kind": inst["kind"], "chain": None})
    b = pd.DataFrame({"key": "pharmacy:" + ph["pharmacy_id"].astype(str), "name": ph["name"], "kind": "pharmacy",
                      "chain": ph["chain"]})
    return pd.concat([a, b], ignore_index=True).astype(object).where(lambda d: d.notna(), None).set_index("key")


def _batch_settlers(store: Store, keys: set[str], precision: str | None) -> dict[str, tuple[float, float, int]]:
    """provider → (share of its claims at its busiest minute of the day, log10 p of that spike,
    claims) for the providers in ``keys``. A provider that settles in batches or remotely stamps
    many claims at one clock time: a spike against the ten minutes either side of it (opening
    hours and rush hours are smooth, a batch is not): Poisson tail of the count at the busiest
    minute against the mean of its neighbours."""
    from scipy.stats import poisson

    if precision not in ("minute", "second") or not keys:
        return {}
    df = store.projection("clock_minutes", providers=sorted(keys))
    out = {}
    near = np.concatenate([np.arange(-10, 0), np.arange(1, 11)])
    keyed = df["provider_type"].astype(str) + ":" + df["provider_id"].astype(str)
    for k, g in df.groupby(keyed, sort=False):
        counts = np.bincount(g["minute"].to_numpy(np.int64), weights=g["n"].to_numpy(float), minlength=1440)
        top = int(counts.argmax())
        lam = max(float(counts[(top + near) % 1440].mean()), 0.5)
        lp = float(poisson.logsf(counts[top] - 1, lam) / np.log(10))
        out[k] = (float(counts[top] / counts.sum()), lp, int(counts.sum()))
    return out


@register(
    "impossible_travel",
    [
        Param("road_speed_kmh", 120.0, "float", low=1.0, doc="fastest door-to-door road travel (expressway limit)"),
        Param("rail_speed_kmh", 350.0, "float", low=1.0, doc="fastest high-speed rail"),
        Param("rail_overhead_hours", 0.5, "float", low=0.0, doc="station access at both ends of a rail trip"),
        Param("flight_speed_kmh", 800.0, "float", low=1.0, doc="cruise speed of a flight"),
        Param("flight_overhead_hours", 2.0, "float", low=0.0, doc="airport access, boarding and taxiing"),
        Param("coordinate_km", 0.5, "float", low=0.0, doc="uncertainty of a provider's own coordinates (geocoding, campus)"),
        Param("max_gap_hours", 24.0, "float", low=0.1, high=240.0, doc="only consecutive settlements closer in time"),
        Param("clock_tolerance_minutes", 5.0, "float", low=0.0, high=120.0,
              doc="two providers' clocks may disagree by this much: ranks and the clock_skew check, not the decision"),
    ],
    needs=("time:hour", "places"),
    prefers={
        "time:minute": "只能以小时判断，仅相距很远的两地可判定 / judged at hour precision: only places far apart can be shown impossible",
        "family": "无法检验家庭共济 / family card sharing cannot be tested",
    },
)
def impossible_travels(
    store: Store,
    *,
    road_speed_kmh: float = 120.0,
    rail_speed_kmh: float = 350.0,
    rail_overhead_hours: float = 0.5,
    flight_speed_kmh: float = 800.0,
    flight_overhead_hours: float = 2.0,
    coordinate_km: float = 0.5,
    max_gap_hours: float = 24.0,
    clock_tolerance_minutes: float = 5.0,
) -> list[Finding]:
    """Cards (and people) settled at two places farther apart than any traveller could cover
    in the largest time the data allows between them.

    Examples
    --------
    >>> from graphkit.store import open_store                   # doctest: +SKIP
    >>> impossible_travels(open_store("store"))[0].evidence["pairs"][0]  # doctest: +SKIP
    """
    p = dict(road_speed_kmh=road_speed_kmh, rail_speed_kmh=rail_speed_kmh, rail_overhead_hours=rail_overhead_hours,
             flight_speed_kmh=flight_speed_kmh, flight_overhead_hours=flight_overhead_hours)
    profile = store.profile() if callable(getattr(store, "profile", None)) else {}
    precision = (profile.get("time") or {}).get("claims.start_time", {}).get("precision")
    parts = []
    both = travel_pairs_by(store, ("card_id", "patient_id"), max_gap_hours=max_gap_hours, coordinate_km=coordinate_km)
    for by, pairs in both.items():
        if by == "patient_id":  # only what the per-card pass cannot see: pairs across cards
            pairs = pairs[pairs["card_a"] != pairs["card_b"]]
        parts.append(pairs.assign(by=by))
    pairs = pd.concat(parts, ignore_index=True)
    known = pairs["distance_low_km"].notna().to_numpy()
    pairs = pairs[known].reset_index(drop=True)
    if pairs.empty:
        return []
    ua, ub = pairs["unc_a"].to_numpy(float), pairs["unc_b"].to_numpy(float)
    unc = np.maximum(ua, ub)
    g = pairs["gap_hours"].to_numpy(float)
    max_gap_h = np.maximum(g + ub / 3600.0, ua / 3600.0 - g)  # true times in [t, t + unc): either order
    d_low = pairs["distance_low_km"].to_numpy(float)
    need = min_travel_hours(d_low, p)
    pairs = pairs.assign(max_gap_hours=max_gap_h, required_hours=need, unc=unc)
    # the data's own background: log10 implied speed of every judged pair that moved at all, over
    # the largest gap widened by the clock tolerance (a few seconds between two providers' clocks
    # prove nothing; an hour short of the fastest trip does)
    tol_h = clock_tolerance_minutes / 60.0
    speed = np.where(d_low > 0, d_low / np.maximum(max_gap_h + tol_h, 1e-9), np.nan)
    logv = np.log10(speed[np.isfinite(speed) & (speed > 0)])
    if logv.size >= 2:
        mu = float(np.median(logv))
        sigma = float(1.4826 * np.median(np.abs(logv - mu))) or float(np.std(logv)) or 1.0
    else:
        mu, sigma = 0.0, 1.0
    n_keys = int(pairs.groupby("by")["key"].nunique().sum())
    bad = (d_low > 0) & (max_gap_h < need)
    v = pairs[bad].copy()
    if v.empty:
        return []
    v["ratio"] = v["required_hours"] / np.maximum(v["max_gap_hours"], 1e-9)
    v["speed"] = v["distance_low_km"] / np.maximum(v["max_gap_hours"] + tol_h, 1e-9)
    v["robust_ratio"] = v["required_hours"] / np.maximum(v["max_gap_hours"] + tol_h, 1e-9)
    v["deficit_minutes"] = (v["required_hours"] - v["max_gap_hours"]) * 60.0
    v["log10p"] = norm.logsf((np.log10(v["speed"]) - mu) / sigma) / np.log(10)
    v = v.drop_duplicates(["claim_a", "claim_b"])
    # benign look-alikes, tested on the data
    provs = _providers(store)
    info = provs.to_dict("index")
    involved = set(v["provider_a"]) | set(v["provider_b"])
    batch = _batch_settlers(store, involved, precision)
    n_prov = max(len(provs), 1)
    endpoints = pd.concat([pairs["provider_a"], pairs["provider_b"]]).value_counts()
    bad_keys = v.groupby("provider_a")["key"].nunique().add(v.groupby("provider_b")["key"].nunique(), fill_value=0)
    total_bad_keys = v["key"].nunique()
    all_keys = pd.concat([pairs[["provider_a", "key"]].set_axis(["p", "k"], axis=1),
                          pairs[["provider_b", "key"]].set_axis(["p", "k"], axis=1)]).drop_duplicates().groupby("p").size()
    fam = _family_of(store)
    channels = _remote_channels(store, v)
    flow = flow_context(store, pairs, bad, v, coordinate_km=coordinate_km)
    null = {"method": "robust log-normal fit of this data's implied speeds (lower-bound km / largest possible gap) "
                      "over all judged consecutive-settlement pairs; Bonferroni over keys judged",
            "median_speed_kmh": round(10 ** mu, 3), "sigma_decades": round(sigma, 4), "pairs_judged": int(len(pairs)),
            "keys_judged": n_keys, "time_precision": precision}
    findings: list[Finding] = []
    for (by, key), rows in v.groupby(["by", "key"], sort=True):
        rows = rows.sort_values("ratio", ascending=False)
        worst = rows.iloc[0]
        lp = float(rows["log10p"].sum())
        s = float(surprise(lp, n_keys)) + max(0.0, float(np.log10(rows["robust_ratio"].max())))
        checks = _checks(rows, by, info, batch, endpoints, bad_keys, total_bad_keys, len(pairs), fam, precision, n_prov,
                         all_keys, clock_tolerance_minutes, channels)
        checks.append(flow_check(rows, flow, clock_tolerance_minutes))
        score = float(surprise_score(s)) * benign_factor(checks)
        claims = pd.unique(pd.concat([rows["claim_a"], rows["claim_b"]]))
        fund = float(rows["fund_a"].sum() + rows["fund_b"].sum())
        providers = pd.unique(pd.concat([rows["provider_a"], rows["provider_b"]]))
        ents = []
        if by == "card_id":
            ents.append(Entity("card", key, "card"))
            ents += [Entity("patient", x, "settled_person") for x in pd.unique(pd.concat([rows["patient_a"], rows["patient_b"]]))]
        else:
            ents.append(Entity("patient", key, "settled_person"))
            ents += [Entity("card", x, "card") for x in pd.unique(pd.concat([rows["card_a"], rows["card_b"]]))]
        ents += [Entity(pv.split(":", 1)[0], pv.split(":", 1)[1], "venue") for pv in providers]
        subject, subject_en = (f"医保卡{key}", f"card {key}") if by == "card_id" else (f"参保人{key}", f"person {key}")
        mg = float(worst.max_gap_hours) * 3600
        gz, ge = gap_text(mg, float(worst.unc) if round(mg) % 3600 == 0 else 60.0)
        findings.append(Finding.create(
            "impossible_travel",
            key=(by, key),
            score=round(score, 6),
            amount_at_risk=fund,
            start=rows["time_a"].min(),
            end=rows["time_b"].max(),
            entities=ents,
            claims=claims,
            summary=(f"{subject}{gz}于至少相距{worst.distance_low_km:.0f}公里的两地结算（最短行程约"
                     f"{worst.required_hours * 60:.0f}分钟，共{len(rows)}次），基金{yuan(fund)}"
                     f" / {subject_en} settled at places at least {worst.distance_low_km:.0f} km apart {ge}"
                     f" (fastest trip ≈ {worst.required_hours * 60:.0f} min; {len(rows)} impossible pair(s))"),
            evidence={
                "pairs": [
                    {"claim_a": r.claim_a, "claim_b": r.claim_b, "time_a": r.time_a, "time_b": r.time_b,
                     "provider_a": r.provider_a, "provider_b": r.provider_b, "region_a": r.region_a, "region_b": r.region_b,
                     "place_a": r.place_a, "place_b": r.place_b,
                     "distance_km": round(float(r.distance_km), 1), "distance_low_km": round(float(r.distance_low_km), 1),
                     "radius_a_km": round(float(r.radius_a), 2), "radius_b_km": round(float(r.radius_b), 2),
                     "gap_written_minutes": round(float(r.gap_hours) * 60, 1),
                     "max_gap_minutes": round(float(r.max_gap_hours) * 60, 1),
                     "required_minutes": round(float(r.required_hours) * 60, 1),
                     "speed_kmh_at_least": round(float(r.speed), 1)}
                    for r in rows.itertuples(index=False)
                ],
                "max_ratio": round(float(rows["ratio"].max()), 4),
                "null": {**null, "log10_p": round(lp, 4), "surprise_decades": round(s, 4)},
                "benign_checks": checks,
            },
        ))
    return findings


def _family_of(store: Store) -> pd.Series | None:
    """patient → family group (None when the data has no family links)."""
    if not store.has_table("contacts"):
        return None
    fg = store.projection("family_groups")
    if fg.empty:
        return None
    return pd.Series(fg["family"].to_numpy(), index=fg["patient_id"].astype(str))


def _remote_channels(store: Store, v: pd.DataFrame) -> dict[str, tuple[str, int, float, str]]:
    """Claims that went through a *remote channel*: a terminal (or, without terminal ids, a
    provider) through which far more of the travellers it serves teleport than the city's share —
    an internet-hospital terminal (互联网医院) or an online pharmacy serves people who are
    elsewhere; a cloned card passes an ordinary counter once.

    Null: of the ``m_u`` cards the unit serves (projection ``unit_cards``), ``k_u`` cards/persons
    have an impossible pair through it; against the city's share ``ρ`` of cards with one,
    binomial tail, Bonferroni over the units tested; a channel needs at least 2 such keys *and*
    a third of the people it serves (a counter that swiped two cloned cards among hundreds of
    honest customers is not a channel). Returns claim_id → (unit, k, expected, level).
    """
    from scipy.stats import binom

    cols = ["terminal_id", "institution_id", "pharmacy_id"]

    def units(claim_ids: np.ndarray) -> tuple[pd.Series, str]:
        c = store.claims_by_id(claim_ids, cols)
        for x in cols:
            if x not in c.columns:
                c[x] = pd.NA
        prov = ("institution:" + c["institution_id"].astype("string")).fillna("pharmacy:" + c["pharmacy_id"].astype("string"))
        term = c["terminal_id"].notna().any()
        unit = ("terminal:" + c["terminal_id"].astype("string")).fillna(prov) if term else prov
        return pd.Series(unit.to_numpy(), index=c["claim_id"].astype(str)), ("terminal" if term else "provider")

    def long(df: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([df[["claim_a", "provider_a", "key"]].set_axis(["claim", "provider", "key"], axis=1),
                          df[["claim_b", "provider_b", "key"]].set_axis(["claim", "provider", "key"], axis=1)])

    bad = long(v)
    by_claim, level = units(pd.unique(bad["claim"]))
    bad["unit"] = bad["claim"].astype(str).map(by_claim)
    k = bad.dropna(subset=["unit"]).drop_duplicates(["unit", "key"]).groupby("unit").size()
    k = k[k >= 2]
    if k.empty:
        return {}
    # the people each candidate unit serves (distinct cards settled there, over all its claims)
    served = store.projection("unit_cards", units=[str(u) for u in k.index]).set_index("unit")["cards"]
    n_cards = max(int((store.row_counts() or {}).get("cards", 0)), int(served.max()) if len(served) else 1, 1)
    rho = float(v["key"].nunique()) / n_cards  # the city's share of cards/persons with an impossible pair
    n_units = max(int(len(served)), 1)
    out_units: dict[str, tuple[int, float]] = {}
    for u, ku in k.items():
        mu = int(max(served.get(str(u), ku), ku))
        lp = float(binom.logsf(int(ku) - 1, mu, min(rho, 1.0)) / np.log(10))
        # a channel: a third or more of the people it serves are elsewhere, far beyond the city's share
        if 3 * ku >= mu and surprise(lp, n_units) > 0:
            out_units[str(u)] = (int(ku), rho * mu)
    if not out_units:
        return {}
    hit = bad[bad["unit"].isin(list(out_units))]
    return {str(cl): (str(u), out_units[str(u)][0], out_units[str(u)][1], level)
            for cl, u in zip(hit["claim"], hit["unit"])}


def _checks(rows: pd.DataFrame, by: str, info: dict, batch: dict, endpoints: pd.Series, bad_keys: pd.Series,
            total_bad_keys: int, n_pairs: int, fam: pd.Series | None, precision: str | None, n_prov: int,
            all_keys: pd.Series, tolerance_min: float, channels: dict[str, tuple[str, int, float, str]] | None = None) -> list[dict]:
    from scipy.stats import poisson

    out = []
    # 1. one brand in two places (a chain, a hospital and its 分院): billing under the other site's id
    same = [same_brand(info.get(a, {}), info.get(b, {})) and not (pa_ == pb_ == "coordinates")
            for a, b, pa_, pb_ in zip(rows["provider_a"], rows["provider_b"], rows["place_a"], rows["place_b"])]
    if all(same):
        first = info.get(rows["provider_a"].iloc[0], {})
        out.append(benign_check("same_brand", "同一品牌/集团的两处机构(可能按总部编号结算)", "explains",
                                f"every pair is between sites of one brand ({first.get('chain') or first.get('name')})", 0.2))
    elif any(same):
        out.append(benign_check("same_brand", "同一品牌/集团的两处机构(可能按总部编号结算)", "partial",
                                f"{sum(same)} of {len(same)} pairs are between sites of one brand", 0.6))
    else:
        out.append(benign_check("same_brand", "同一品牌/集团的两处机构(可能按总部编号结算)", "ruled_out",
                                "different brands, or each site has its own coordinates"))
    # 2. a provider whose place is wrong or that has several sites: it sits in impossible pairs of
    #    far more different cards/persons than its share of all pairs predicts (Poisson tail), and
    #    for most of the people it serves (a fraud venue's honest patients travel normally)
    worst_lp, worst_p = 0.0, None
    for pv in set(rows["provider_a"]) | set(rows["provider_b"]):
        lam = total_bad_keys * 2 * endpoints.get(pv, 0) / max(2 * n_pairs, 1)
        k = int(bad_keys.get(pv, 0))
        most = k >= 0.5 * int(all_keys.get(pv, 0))
        lp = float(poisson.logsf(k - 1, max(lam, 1e-12)) / np.log(10)) if (k >= 3 and most) else 0.0
        if lp < worst_lp:
            worst_lp, worst_p = lp, (pv, k, lam)
    if worst_p is not None and surprise(worst_lp, n_prov) > 0:
        pv, k, lam = worst_p
        out.append(benign_check("multi_site_provider", "机构多处执业或登记位置有误", "partial",
                                f"{pv} is in impossible pairs of {k} different keys (expected {lam:.2f}): its registered "
                                "place may be wrong or it has several sites", 0.5))
    else:
        out.append(benign_check("multi_site_provider", "机构多处执业或登记位置有误", "ruled_out",
                                "no provider of the pairs collects impossible pairs beyond its share of all pairs"))
    # 3. remote or batch settlement (internet hospital, online pharmacy, settling at one clock time)
    mine = sorted(set(rows["provider_a"]) | set(rows["provider_b"]))
    names = [str(info.get(pv, {}).get("name") or "") for pv in mine]
    remote = [n for n in names if _REMOTE.search(n)]
    batchy = [(pv, batch[pv][0], batch[pv][1]) for pv in mine if pv in batch and surprise(batch[pv][1], n_prov * 1440) > 0]
    through = [channels[c] for c in pd.unique(pd.concat([rows["claim_a"], rows["claim_b"]])) if channels and c in channels]
    if through:
        unit, k, lam, level = max(through, key=lambda t: t[1] / max(t[2], 1e-12))
        term = level == "terminal"
        out.append(benign_check("remote_settlement", "互联网医院/网上药店远程结算", "explains" if term else "partial",
                                f"{unit} settles impossibly far from {k} different cards/persons (expected {lam:.2f} at "
                                f"the city's rate for its volume): it serves people who are elsewhere — an online "
                                f"channel (互联网诊疗) or remote settlement" + ("" if term else "; no terminal ids, "
                                "so the whole provider is judged"), 0.1 if term else 0.4))
    elif remote:
        out.append(benign_check("remote_settlement", "互联网医院/网上药店远程结算", "explains",
                                f"remote provider(s): {', '.join(remote)}", 0.2))
    elif batchy:
        pv, share, lp = batchy[0]
        out.append(benign_check("remote_settlement", "互联网医院/网上药店远程结算或批量结算", "explains",
                                f"{pv} stamps {share:.0%} of its claims at one minute of the day, a spike against the minutes "
                                f"around it (log10 p {lp:.1f})", 0.2))
    elif precision in ("minute", "second"):
        out.append(benign_check("remote_settlement", "互联网医院/网上药店远程结算或批量结算", "ruled_out",
                                "no provider of the pairs is remote or settles in batches at one clock time"))
    else:
        out.append(benign_check("remote_settlement", "互联网医院/网上药店远程结算或批量结算", "not_testable",
                                "times are known only to the hour: batches at one clock time cannot be seen"))
    # 4. family members sharing a card (家庭共济) — two people, two places, one card
    if by == "card_id":
        two = rows[rows["patient_a"] != rows["patient_b"]]
        if two.empty:
            out.append(benign_check("family_card", "家庭成员共用医保卡", "ruled_out", "one and the same person at both places"))
        elif fam is None:
            out.append(benign_check("family_card", "家庭成员共用医保卡", "not_testable", "no registered family links in the data"))
        else:
            same_fam = [fam.get(a, -1) == fam.get(b, -2) for a, b in zip(two["patient_a"], two["patient_b"])]
            if all(same_fam):
                out.append(benign_check("family_card", "家庭成员共用医保卡", "explains",
                                        "the two people are registered family: each may have settled where they were", 0.2))
            else:
                out.append(benign_check("family_card", "家庭成员共用医保卡", "ruled_out",
                                        "the people settled on the card are not registered family"))
    else:
        out.append(benign_check("family_card", "家庭成员共用医保卡", "ruled_out", "one person across cards"))
    # 5. clocks of two providers out of step: a deficit of a few minutes proves little
    deficit = float(rows["deficit_minutes"].max())
    if deficit < tolerance_min:
        out.append(benign_check("clock_skew", "两家机构系统时钟不同步", "partial",
                                f"the fastest trip is only {deficit:.1f} min longer than the largest gap (tolerance "
                                f"{tolerance_min:g} min)", round(max(0.1, deficit / tolerance_min), 4)))
    else:
        out.append(benign_check("clock_skew", "两家机构系统时钟不同步", "ruled_out",
                                f"the fastest trip is {deficit:.0f} min longer than the largest gap"))
    # 6. imprecise times: how far below the least travel time is the largest possible gap
    ratio = float(rows["ratio"].max())
    if ratio < 1.5:
        out.append(benign_check("imprecise_times", "时间精度不足", "partial",
                                f"largest possible gap is {1 / ratio:.0%} of the least travel time (time precision: {precision})",
                                round(max(0.2, (ratio - 1) / 0.5), 4)))
    else:
        out.append(benign_check("imprecise_times", "时间精度不足", "ruled_out",
                                f"even the largest possible gap is under {1 / ratio:.0%} of the least travel time"))
    # 7. imprecise places: distances from estimated region radii rather than coordinates
    places = set(rows["place_a"]) | set(rows["place_b"])
    if places <= {"coordinates"}:
        out.append(benign_check("imprecise_places", "位置精度不足", "ruled_out", "both providers have coordinates"))
    else:
        out.append(benign_check("imprecise_places", "位置精度不足", "partial",
                                "a place is a region centroid; its radius is estimated (lower-bound distance used)", 0.8))
    return out
