"""card_burst's scoring and benign checks, one unit (terminal or provider) at a time.

The unit's evidence, in decades beyond the multiple-testing bar (``surprise``):

* each episode's Poisson tail of distinct cards against its expected count, the expected count
  first multiplied by the day's volume ratio of the area's (or the city's) other providers when
  that ratio is above 1 (an outbreak, a month-end or holiday peak lifts everyone); an episode
  that falls below ``min_surprise`` after that is explained by the peak and dropped;
* the amounts: binomial tail of the episodes' claims inside one MAD of their median, where
  the unit's other claims fall in that band at ``band_share`` (套现 at one price);
* non-medical items: binomial tail of episode claims carrying non-medical items against the
  unit's own background rate (when ``claim_items`` exist).

Benign checks then multiply the score: most cards held by residents of one care home or
dormitory (batch settlement); a community or village clinic's daytime session for people of
its own area with exam/vaccine items (group physical exam, vaccination).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..findings import Entity, Finding
from ._common import benign_check, benign_factor, surprise, surprise_score, yuan
from ._nulls import binom_log10_sf, poisson_log10_sf
from ._people import address_groups

__all__ = ["burst_facts", "unit_finding", "robust_cv"]

#: item names that mark an exam or vaccination session (besides category ``exam``)
CAMPAIGN_WORDS = ("疫苗", "接种", "体检", "筛查", "vaccin", "screening", "check-up")
#: ICD-10 codes of encounters for examination (Z00-Z13) and immunization (Z23-Z29)
CAMPAIGN_ICD = tuple(f"Z{n:02d}" for n in list(range(0, 14)) + list(range(23, 30)))
CAMPAIGN_KINDS = ("community", "village", "clinic")


def robust_cv(x: np.ndarray) -> float:
    """Robust coefficient of variation, 1.4826 · MAD / median (1.0 when the median is 0).

    >>> round(robust_cv(np.array([198.0, 198.5, 197.5, 198.0])), 4)
    0.0019
    """
    med = float(np.median(x))
    if med <= 0:
        return 1.0
    return float(1.4826 * np.median(np.abs(x - med)) / med)


def burst_facts(store: Any, rows_all: pd.DataFrame) -> dict[str, Any]:
    """People, addresses, providers and items the checks need, read once for all units."""
    pats = store.table("patients", ["patient_id", "region"])
    region_of = pd.Series(pats["region"].to_numpy(dtype=object), index=pats["patient_id"].to_numpy(dtype=object))
    groups, address_of, hh_max = address_groups(store, rows_all["start_time"].max())
    inst = store.table("institutions", ["institution_id", "kind", "region"])
    prov_kind = {("institution", i): k for i, k in zip(inst["institution_id"], inst["kind"])}
    prov_region = {("institution", i): r for i, r in zip(inst["institution_id"], inst["region"])}
    if store.has_table("pharmacies"):
        ph = store.table("pharmacies", ["pharmacy_id", "region"])
        prov_region.update({("pharmacy", i): r for i, r in zip(ph["pharmacy_id"], ph["region"])})
    campaign = None
    if store.has_table("claim_items"):
        items = store.items_by_claim(rows_all["claim_id"], ["category", "item_name", "amount"])
        if not items.empty:
            name = items["item_name"].astype("string").fillna("").str.lower()
            hit = (items["category"] == "exam").fillna(False) | name.str.contains("|".join(CAMPAIGN_WORDS), regex=True)
            amt = items["amount"].fillna(0.0)
            g = pd.DataFrame({"claim_id": items["claim_id"], "hit": amt.where(hit, 0.0), "amt": amt}).groupby("claim_id")
            tot = g["amt"].sum()
            campaign = (g["hit"].sum() / tot.where(tot > 0)).fillna(0.0)
    return {"region_of": region_of, "groups": groups, "address_of": address_of, "hh_max": hh_max,
            "prov_kind": prov_kind, "prov_region": prov_region, "campaign": campaign}


def _peak_check(dropped: list[dict], kept: list[dict]) -> dict:
    ratios = [b["day_volume_ratio"] for b in kept + dropped]
    lifted = [r for r in ratios if r > 1.0]
    if dropped:
        return benign_check("outbreak_or_peak", "流行病/月末/节假日高峰", "explains" if not kept else "partial",
                            f"{len(dropped)} of {len(ratios)} episode(s) no longer significant once the expected count is "
                            f"raised by the day's volume at the area's/city's other providers (×{max(lifted):.2f})")
    if lifted:
        return benign_check("outbreak_or_peak", "流行病/月末/节假日高峰", "partial",
                            f"the area/city was busier on {len(lifted)} episode day(s) (up to ×{max(lifted):.2f}); "
                            "the expected count was raised accordingly")
    return benign_check("outbreak_or_peak", "流行病/月末/节假日高峰", "ruled_out",
                        "the area's and the city's other providers were not busier than usual on the episode days")


def _residents_check(rows: pd.DataFrame, facts: dict, weight: float) -> dict:
    groups, address_of = facts["groups"], facts["address_of"]
    if address_of.empty:
        return benign_check("institution_batch", "养老机构/集体户批量结算", "not_testable", "no addresses in the data")
    pats = pd.Series(rows["patient_id"].unique())
    addr = address_of.reindex(pats.to_numpy(dtype=object)).dropna()
    if addr.empty:
        return benign_check("institution_batch", "养老机构/集体户批量结算", "ruled_out", "no address known for the cards' people")
    vc = addr.value_counts()
    share, top = float(vc.iloc[0] / len(pats)), vc.index[0]
    typ = groups["type"].get(top, "household") if len(groups) else "household"
    if share > 0.5 and typ != "household":
        return benign_check("institution_batch", "养老机构/集体户批量结算", "explains",
                            f"{share:.0%} of the cards' people live at one {typ.replace('_', ' ')} address "
                            f"({int(groups['members'].get(top, 0))} residents)", weight)
    return benign_check("institution_batch", "养老机构/集体户批量结算", "ruled_out",
                        f"at most {share:.0%} of the cards' people share an address")


def _campaign_check(rows: pd.DataFrame, facts: dict, weight: float) -> dict:
    ptype, pid = rows["provider_type"].iloc[0], rows["provider_id"].iloc[0]
    kind = facts["prov_kind"].get((ptype, pid))
    zh = "集体体检/疫苗接种"
    if ptype != "institution" or kind not in CAMPAIGN_KINDS:
        return benign_check("group_exam_or_vaccination", zh, "ruled_out", f"the unit is not a community or village clinic ({ptype} {kind or '?'})")
    odd = float(rows["odd_hour"].mean())
    if odd > 0.5:
        return benign_check("group_exam_or_vaccination", zh, "ruled_out", f"{odd:.0%} of the claims at hours its peers are closed")
    area = facts["prov_region"].get((ptype, pid))
    pr = facts["region_of"].reindex(pd.unique(rows["patient_id"].to_numpy(dtype=object)))
    local = float((pr == area).mean()) if area is not None and len(pr) else 0.0
    if local <= 0.5:
        return benign_check("group_exam_or_vaccination", zh, "ruled_out", f"only {local:.0%} of the people live in the clinic's area")
    dx = rows["diagnosis_code"].astype("string").str.strip().str.upper().str[:3]
    dx_share = float(dx.isin(CAMPAIGN_ICD).fillna(False).mean()) if dx.notna().any() else None
    camp = facts["campaign"]
    item_share = float(camp.reindex(rows["claim_id"].to_numpy(dtype=object)).fillna(0.0).gt(0.5).mean()) if camp is not None else None
    shares = [x for x in (dx_share, item_share) if x is not None]
    what = ", ".join(f"{x:.0%} {n}" for x, n in ((dx_share, "exam/immunization diagnoses (Z00-Z13, Z23-Z29)"),
                                                  (item_share, "claims mostly exam/vaccine items")) if x is not None)
    if not shares:
        return benign_check("group_exam_or_vaccination", zh, "partial",
                            f"daytime session of a {kind} clinic, {local:.0%} local people; no diagnoses or items to confirm",
                            weight ** 0.5)
    if max(shares) > 0.5:
        return benign_check("group_exam_or_vaccination", zh, "explains",
                            f"daytime session of a {kind} clinic, {local:.0%} local people; {what}", weight)
    return benign_check("group_exam_or_vaccination", zh, "ruled_out", f"not an exam or vaccination session: {what}")


def _schedule_check(kept: list[dict], weight: float, n_units: int) -> tuple[dict, np.ndarray]:
    """Monthly schedule (慢病取药日, a care home's monthly settlement): the episodes fall within a
    day of one day of the month far more often than days drawn at random would (union bound over
    the 31 days: ``31 · P(Binomial(n, 3/31) ≥ best)``, beyond the bar of the units tested), at
    least four times, in four or more months. Returns the check and which episodes are on it."""
    zh = "按月固定日期的批量结算（慢病取药日等）"
    none = np.zeros(len(kept), dtype=bool)
    if len(kept) < 4:
        return benign_check("monthly_schedule", zh, "ruled_out", f"{len(kept)} episode(s): too few to see a monthly schedule"), none
    starts = pd.to_datetime(pd.Series([b["start"] for b in kept]))
    dom = starts.dt.day.to_numpy()
    hits = [(np.abs(((dom - d + 15) % 31) - 15) <= 1) for d in range(1, 32)]
    sums = [int(h.sum()) for h in hits]
    best = max(sums)
    on = hits[int(np.argmax(sums))]
    months = starts[on].dt.to_period("M").nunique()
    lp = min(0.0, float(np.log10(31.0)) + float(binom_log10_sf(best, len(kept), 3.0 / 31.0)))
    detail = f"{best} of {len(kept)} episodes on one day of the month (±1) over {months} months (log10 p {lp:.1f})"
    if best >= 4 and months >= 4 and float(surprise(lp, max(n_units, 1))) > 0:
        return benign_check("monthly_schedule", zh, "explains", detail, weight), on
    return benign_check("monthly_schedule", zh, "ruled_out", detail), none


def _per_episode(name: str, zh: str, results: list[dict], n_eps: int) -> dict:
    """One unit-level check from per-episode outcomes: explains when every episode is explained,
    partial (its episodes left out of the score) when some are, else the first episode's outcome."""
    hits = [r for r in results if r["outcome"] == "explains"]
    if hits and len(hits) == n_eps:
        return benign_check(name, zh, "explains", f"every episode: {hits[0]['detail']}", hits[0]["factor"])
    if hits:
        return benign_check(name, zh, "partial", f"{len(hits)} of {n_eps} episode(s) left out of the score: {hits[0]['detail']}")
    return results[0] if results else benign_check(name, zh, "ruled_out", "")


def unit_finding(unit: str, rows: pd.DataFrame, facts: dict, *, precision: str, window: int, n_tests: int,
                 n_eps_all: int, n_units: int, min_surprise: float, min_episodes: int,
                 institution_weight: float, campaign_weight: float) -> Finding | None:
    """The finding of one unit's episodes, or None when fewer than ``min_episodes`` stay."""
    kept, dropped, eps = [], [], []
    for _, e in rows.groupby("episode", sort=True):
        c, lam = int(e["window_cards"].iloc[0]), float(e["expected"].iloc[0])
        ratio = max(float(e["day_ratio"].iloc[0]), 1.0)
        lp = float(poisson_log10_sf(c, lam * ratio))
        b = {
            "start": e["start_time"].min(), "end": e["start_time"].max(), "claims": int(len(e)),
            "distinct_cards": int(e["card_id"].nunique()), "window_cards": c,
            "expected_in_window": round(lam, 3), "day_volume_ratio": round(ratio, 3),
            "surprise": round(-lp, 1), "median_amount": round(float(e["total_amount"].median()), 2),
            "amount_cv": round(robust_cv(e["total_amount"].to_numpy(float)), 4),
            "odd_hour_share": round(float(e["odd_hour"].mean()), 3),
        }
        if -lp < min_surprise:
            dropped.append(b)
            continue
        kept.append(b)
        eps.append((e, lp))
    if len(kept) < min_episodes:
        return None
    # legal explanations of single episodes (a care home's batch, an exam morning, a monthly
    # refill day) take those episodes out of the score; the unit's other episodes still count
    res = [_residents_check(e, facts, institution_weight) for e, _ in eps]
    camp = [_campaign_check(e, facts, campaign_weight) for e, _ in eps]
    why = [("institution_batch" if r["outcome"] == "explains" else "group_exam_or_vaccination" if c["outcome"] == "explains"
            else None) for r, c in zip(res, camp)]
    open_ix = [i for i, w in enumerate(why) if w is None]
    sched, on = _schedule_check([kept[i] for i in open_ix], campaign_weight, n_units)
    for j, i in enumerate(open_ix):
        if on[j]:
            why[i] = "monthly_schedule"
    for b, w in zip(kept, why):
        b["explained_by"] = w
    n = len(eps)
    sched_results = [sched if w == "monthly_schedule" else benign_check("monthly_schedule", sched["zh"], "ruled_out", sched["detail"])
                     for w in why]
    checks = [
        _peak_check(dropped, kept),
        _per_episode("institution_batch", "养老机构/集体户批量结算", [r if w in ("institution_batch", None) else
                     benign_check("institution_batch", "养老机构/集体户批量结算", "ruled_out", "") for r, w in zip(res, why)], n),
        _per_episode("group_exam_or_vaccination", "集体体检/疫苗接种", [c if w != "institution_batch" else
                     benign_check("group_exam_or_vaccination", "集体体检/疫苗接种", "ruled_out", "") for c, w in zip(camp, why)], n),
        _per_episode("monthly_schedule", sched["zh"], sched_results, n),
        benign_check("own_hours_24h_or_chain", "24小时/连锁药店自身营业规律", "ruled_out",
                     f"the expected count already uses this unit's own weekday-hour median and its peer group's "
                     f"({rows['peer_group'].iloc[0]}) hour profile"),
    ]
    factor = benign_factor(checks)
    scored = [i for i, w in enumerate(why) if w is None] or list(range(n))
    s_episodes = sum(float(surprise(eps[i][1], n_tests)) for i in scored)
    lp_amount, lp_nm = 0.0, 0.0
    for i in scored:
        e = eps[i][0]
        lp_amount += float(binom_log10_sf(int(e["band_in"].iloc[0]), len(e), float(e["band_share"].iloc[0])))
        rate = e["unit_nm_rate"].iloc[0]
        if pd.notna(rate):
            lp_nm += float(binom_log10_sf(int((e["nonmedical"].fillna(0.0) > 0).sum()), len(e), float(rate)))
    rows = pd.concat([eps[i][0] for i in scored], ignore_index=True)
    s_amount = float(surprise(lp_amount, n_eps_all))
    s_nm = float(surprise(lp_nm, n_units))
    s_total = s_episodes + s_amount + s_nm
    null = {"method": "Poisson tail of distinct cards per window vs. the unit's own weekday-hour median, its local weeks "
                      "and its peers' hour profile (raised by the day's area/city volume ratio); amounts: binomial tail "
                      "vs. the unit's other claims in the same band; non-medical items: binomial vs. the unit's own rate",
            "time_precision": precision, "window_minutes": window, "n_tests": n_tests,
            "episodes_scored": len(scored),
            "surprise_episodes": round(s_episodes, 3), "log10_p_amounts": round(lp_amount, 3),
            "surprise_amounts": round(s_amount, 3), "log10_p_non_medical": round(lp_nm, 3),
            "surprise_non_medical": round(s_nm, 3), "surprise": round(s_total, 3)}
    kept_all = kept
    kept = [kept[i] for i in scored]
    n_ep = len(kept)
    s_max = max(b["surprise"] for b in kept)
    cv = float(np.median([b["amount_cv"] for b in kept]))
    odd = float(rows["odd_hour"].mean())
    has_nm = rows["nonmedical"].notna().any()
    nm_share = float(rows["nonmedical"].fillna(0.0).mean()) if has_nm else None
    cards = sorted(rows["card_id"].dropna().unique())
    fund = float(rows["fund_amount"].sum())
    utype = rows["unit_type"].iloc[0]
    ptype, pid = rows["provider_type"].iloc[0], rows["provider_id"].iloc[0]
    ents = [Entity("terminal", unit, "terminal")] if utype == "terminal" else []
    ents.append(Entity(ptype, pid, "venue"))
    ents += [Entity("card", c, "card") for c in cards]
    where = f"终端{unit}（{pid}）" if utype == "terminal" else f"{'药店' if ptype == 'pharmacy' else '机构'}{pid}"
    where_en = f"terminal {unit} ({pid})" if utype == "terminal" else f"{ptype} {pid}"
    top = max(kept, key=lambda b: b["surprise"])
    if precision == "day":
        span_zh, span_en, odd_zh, odd_en = "同一天内", "on one day", "", ""
    else:
        minutes = (pd.Timestamp(top["end"]) - pd.Timestamp(top["start"])).total_seconds() / 60
        if precision == "hour":
            span_zh, span_en = f"{max(1, int(np.ceil(minutes / 60)))}小时内", f"within {max(1, int(np.ceil(minutes / 60)))} h"
        else:
            span_zh, span_en = f"{minutes:.0f}分钟内", f"in {minutes:.0f} min"
        odd_zh, odd_en = f"，非营业时段占{odd:.0%}", f", {odd:.0%} at odd hours"
    return Finding.create(
        "card_burst",
        key=(utype, unit) if utype != "terminal" else ("terminal", ptype, pid, unit),
        score=float(surprise_score(s_total)) * factor,
        amount_at_risk=fund,
        start=rows["start_time"].min(),
        end=rows["start_time"].max(),
        entities=ents,
        claims=rows["claim_id"],
        summary=(
            f"{where}出现{n_ep}次集中刷卡，最多{span_zh}{top['distinct_cards']}张不同医保卡"
            f"（金额中位{top['median_amount']:.0f}元{odd_zh}），基金{yuan(fund)}"
            f" / {where_en}: {n_ep} burst(s), up to {top['distinct_cards']} different cards {span_en}"
            f" (median amount {top['median_amount']:.0f}{odd_en})"
        ),
        evidence={
            "unit_type": utype,
            "peer_group": rows["peer_group"].iloc[0],
            "bursts": kept_all,
            "episodes": n_ep,
            "distinct_cards": len(cards),
            "claims_count": int(len(rows)),
            "max_surprise": s_max,
            "odd_hour_share": odd if precision != "day" else None,
            "amount_cv": cv,
            "non_medical_share": nm_share,
            "fund": fund,
            "time_precision": precision,
            "null": null,
            "benign_checks": checks,
            "benign_factor": round(factor, 4),
        },
    )
