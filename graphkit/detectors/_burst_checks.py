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
its own area with exam/vaccine items (group physical exam, vaccination); most claims of one
diagnosis group that the region's other providers saw surge at the same time (an outbreak).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._fast import unique_ints
from ..findings import Entity, Finding
from ._common import benign_check, benign_factor, surprise, surprise_score, yuan
from ._burst_context import CAMPAIGN_WORDS  # noqa: F401 - where the words used to live
from ._nulls import binom_log10_sf, poisson_log10_sf
from ._people import address_groups

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["burst_facts", "episode_facts", "unit_finding", "robust_cv"]

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


def burst_facts(store: Store, rows_all: pd.DataFrame) -> dict[str, Any]:
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
    # share of exam/vaccine item amount per episode claim (the projection read the items)
    camp = rows_all["campaign"] if "campaign" in rows_all.columns else pd.Series(np.nan, index=rows_all.index)
    known = camp.notna().to_numpy()
    campaign = pd.Series(camp.to_numpy(np.float64)[known], index=rows_all["claim_id"].to_numpy(dtype=object)[known]) \
        if known.any() else None
    return {"region_of": region_of, "groups": groups, "address_of": address_of, "hh_max": hh_max,
            "prov_kind": prov_kind, "prov_region": prov_region, "campaign": campaign}


def _group_median(g: np.ndarray, v: np.ndarray, n: int, skipna: bool) -> np.ndarray:
    """Per group ``0..n-1`` the median of ``v`` (the mean of the two middle values for an even
    count, as ``np.median``); NaN for a group without values. ``skipna`` False: NaN when the
    group holds a NaN (``np.median``), else the NaNs are left out (``Series.median``)."""
    bad = np.isnan(v)
    o = np.lexsort((v, g))  # NaN sorts last within its group
    gs = g[o]
    start = np.searchsorted(gs, np.arange(n), side="left")
    k = np.bincount(g[~bad], minlength=n)
    has = k > 0
    lo = start + np.maximum(k - 1, 0) // 2
    hi = start + k // 2
    vs = v[o]
    last = max(vs.size - 1, 0)
    out = np.where(has, (vs[np.minimum(lo, last)] + vs[np.minimum(hi, last)]) / 2.0, np.nan) if vs.size else np.full(n, np.nan)
    if not skipna:
        out[np.bincount(g[bad], minlength=n) > 0] = np.nan
    return out


def episode_facts(rows_all: pd.DataFrame, facts: dict) -> dict[str, Any]:
    """What :func:`unit_finding` needs of every episode, in one pass over all episodes (not a
    groupby and its checks per episode): ``ids`` (sorted episode ids), ``rows`` (each episode's
    row positions in ``rows_all``, in row order), per-episode arrays and the people/items facts
    of the residents and campaign checks."""
    ep = rows_all["episode"].to_numpy(np.int64)
    ids, inv = np.unique(ep, return_inverse=True)
    n = ids.size
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv, minlength=n)
    bounds = np.r_[0, np.cumsum(counts)]
    first = order[bounds[:-1]]
    t = rows_all["start_time"].to_numpy("datetime64[s]").astype(np.int64)
    ts = t[order]
    amount = rows_all["total_amount"].to_numpy(np.float64)
    med = _group_median(inv, amount, n, skipna=True)
    med_all = _group_median(inv, amount, n, skipna=False)
    dev = np.abs(amount - med_all[inv])
    mad = _group_median(inv, dev, n, skipna=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = np.where(med_all <= 0, 1.0, 1.4826 * mad / med_all)  # robust_cv, NaN when an amount is NaN
    card, _ = pd.factorize(rows_all["card_id"].to_numpy(dtype=object), use_na_sentinel=True)
    ok = card >= 0
    pairs = unique_ints(inv[ok].astype(np.int64) * (int(card.max(initial=0)) + 1) + card[ok])
    n_cards = np.bincount(pairs // (int(card.max(initial=0)) + 1), minlength=n)
    odd = np.bincount(inv, weights=rows_all["odd_hour"].to_numpy(dtype=bool).astype(np.float64), minlength=n)
    nm = rows_all["nonmedical"].to_numpy(np.float64)
    nm_hits = np.bincount(inv, weights=(np.nan_to_num(nm, nan=0.0) > 0).astype(np.float64), minlength=n).astype(np.int64)
    c = rows_all["window_cards"].to_numpy()[first].astype(np.int64)
    lam = rows_all["expected"].to_numpy(np.float64)[first]
    ratio = np.maximum(rows_all["day_ratio"].to_numpy(np.float64)[first], 1.0)
    band_in = rows_all["band_in"].to_numpy()[first].astype(np.int64)
    band_share = rows_all["band_share"].to_numpy(np.float64)[first]
    nm_rate = rows_all["unit_nm_rate"].to_numpy(np.float64)[first]
    # people of each episode: distinct (episode, person) pairs, a missing person counted once
    pcode, pvals = pd.factorize(rows_all["patient_id"].to_numpy(dtype=object), use_na_sentinel=False)
    np_ = max(len(pvals), 1)
    pp = unique_ints(inv.astype(np.int64) * np_ + pcode)
    pp_ep, pp_pat = pp // np_, pp % np_
    n_pats = np.bincount(pp_ep, minlength=n)
    # most common known address among each episode's people
    address_of = facts["address_of"]
    top_n, top_addr = np.zeros(n, np.int64), np.full(n, -1, np.int64)
    addr_vals = np.zeros(0, dtype=object)
    if not address_of.empty and pp.size:
        a = address_of.reindex(np.asarray(pvals, dtype=object)).to_numpy(dtype=object)
        acode, addr_vals = pd.factorize(a, use_na_sentinel=True)
        ac = acode[pp_pat]
        sel = ac >= 0
        na = max(len(addr_vals), 1)
        key, cnt = np.unique(pp_ep[sel].astype(np.int64) * na + ac[sel], return_counts=True)
        k_ep = key // na
        o = np.lexsort((-cnt, k_ep))
        fst = o[np.r_[True, k_ep[o][1:] != k_ep[o][:-1]]] if o.size else o
        top_n[k_ep[fst]] = cnt[fst]
        top_addr[k_ep[fst]] = key[fst] % na
    # people living in the area of the episode's provider (campaign check): region per pair
    region = facts["region_of"].reindex(np.asarray(pvals, dtype=object)).to_numpy(dtype=object)
    dx = rows_all["diagnosis_code"].astype("string").str.strip().str.upper().str[:3]
    dx_hit = np.bincount(inv, weights=dx.isin(CAMPAIGN_ICD).fillna(False).to_numpy(dtype=bool).astype(np.float64), minlength=n)
    dx_any = np.bincount(inv, weights=dx.notna().to_numpy(dtype=bool).astype(np.float64), minlength=n) > 0
    camp = facts["campaign"]
    item_hit = None
    if camp is not None:
        hit = np.nan_to_num(rows_all["campaign"].to_numpy(np.float64), nan=0.0) > 0.5  # what facts["campaign"] holds
        item_hit = np.bincount(inv, weights=hit.astype(np.float64), minlength=n)
    cols = {c: rows_all[c].to_numpy(dtype=object) for c in ("claim_id", "card_id", "unit_type", "provider_type",
                                                             "provider_id", "peer_group")}
    cols.update(odd_hour=rows_all["odd_hour"].to_numpy(dtype=bool), nonmedical=nm, start_time=t,
                fund_amount=rows_all["fund_amount"].to_numpy(np.float64))
    return {
        "cols": cols, "ids": ids, "order": order, "bounds": bounds, "first": first, "n_rows": counts,
        "t_min": np.minimum.reduceat(ts, bounds[:-1]) if n else ts, "t_max": np.maximum.reduceat(ts, bounds[:-1]) if n else ts,
        "median_amount": med, "amount_cv": cv, "distinct_cards": n_cards, "odd": odd, "nm_hits": nm_hits,
        "c": c, "lam": lam, "ratio": ratio, "log10_p": poisson_log10_sf(c, lam * ratio) if n else np.zeros(0),
        "band_in": band_in, "band_share": band_share, "nm_rate": nm_rate,
        "log10_p_amount": binom_log10_sf(band_in, counts, band_share) if n else np.zeros(0),
        "log10_p_nm": binom_log10_sf(nm_hits, counts, np.nan_to_num(nm_rate, nan=0.5)) if n else np.zeros(0),
        "n_pats": n_pats, "top_n": top_n, "top_addr": top_addr, "addr_vals": addr_vals,
        "pp_bounds": np.r_[0, np.cumsum(n_pats)], "pp_region": region[pp_pat] if pp.size else np.zeros(0, dtype=object),
        "dx_hit": dx_hit, "dx_any": dx_any, "item_hit": item_hit,
        "dx_group": rows_all["dx_group"].to_numpy(dtype=object)[first],
        "dx_share": rows_all["dx_share"].to_numpy(np.float64)[first],
        "area_count": rows_all["area_count"].to_numpy(np.float64)[first],
        "area_expected": rows_all["area_expected"].to_numpy(np.float64)[first],
        "outbreak_log10_p": rows_all["outbreak_log10_p"].to_numpy(np.float64)[first],
        "provider_type": rows_all["provider_type"].to_numpy(dtype=object)[first],
        "provider_id": rows_all["provider_id"].to_numpy(dtype=object)[first],
    }


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


def _residents_check(ef: dict, i: int, facts: dict, weight: float) -> dict:
    groups, address_of = facts["groups"], facts["address_of"]
    if address_of.empty:
        return benign_check("institution_batch", "养老机构/集体户批量结算", "not_testable", "no addresses in the data")
    if ef["top_n"][i] == 0:
        return benign_check("institution_batch", "养老机构/集体户批量结算", "ruled_out", "no address known for the cards' people")
    share, top = float(ef["top_n"][i] / ef["n_pats"][i]), ef["addr_vals"][ef["top_addr"][i]]
    typ = groups["type"].get(top, "household") if len(groups) else "household"
    if share > 0.5 and typ != "household":
        return benign_check("institution_batch", "养老机构/集体户批量结算", "explains",
                            f"{share:.0%} of the cards' people live at one {typ.replace('_', ' ')} address "
                            f"({int(groups['members'].get(top, 0))} residents)", weight)
    return benign_check("institution_batch", "养老机构/集体户批量结算", "ruled_out",
                        f"at most {share:.0%} of the cards' people share an address")


def _campaign_check(ef: dict, i: int, facts: dict, weight: float) -> dict:
    ptype, pid = ef["provider_type"][i], ef["provider_id"][i]
    kind = facts["prov_kind"].get((ptype, pid))
    zh = "集体体检/疫苗接种"
    if ptype != "institution" or kind not in CAMPAIGN_KINDS:
        return benign_check("group_exam_or_vaccination", zh, "ruled_out", f"the unit is not a community or village clinic ({ptype} {kind or '?'})")
    n_rows = int(ef["n_rows"][i])
    odd = float(ef["odd"][i] / n_rows)
    if odd > 0.5:
        return benign_check("group_exam_or_vaccination", zh, "ruled_out", f"{odd:.0%} of the claims at hours its peers are closed")
    area = facts["prov_region"].get((ptype, pid))
    pr = pd.Series(ef["pp_region"][ef["pp_bounds"][i]: ef["pp_bounds"][i + 1]], dtype=object)
    local = float((pr == area).mean()) if area is not None and len(pr) else 0.0
    if local <= 0.5:
        return benign_check("group_exam_or_vaccination", zh, "ruled_out", f"only {local:.0%} of the people live in the clinic's area")
    dx_share = float(ef["dx_hit"][i] / n_rows) if ef["dx_any"][i] else None
    item_share = float(ef["item_hit"][i] / n_rows) if ef["item_hit"] is not None else None
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


OUTBREAK_ZH = "疫情聚集性就诊（同一诊断在本地区同期激增）"


def _outbreak_check(ef: dict, i: int, weight: float, n_eps: int) -> dict:
    """An outbreak (a school's influenza cluster, a district's influenza wave, a food poisoning):
    most of the episode's claims carry diagnosis groups that the region's *other* providers settled
    far more often around the episode than on their other days (each group's Poisson tail beyond
    the bar of the episodes tested, and at least twice its expected count; a wave is coded under
    several groups, J10 / J11 / J06). A burst of cards swiped for cash has no such diagnoses, or
    ones the area is not going through."""
    g, share = ef["dx_group"][i], float(ef["dx_share"][i])
    if g is None or share <= 0.0:
        return benign_check("outbreak_diagnosis", OUTBREAK_ZH, "ruled_out", "the episode's claims carry no diagnosis")
    if share < 0.5:
        return benign_check("outbreak_diagnosis", OUTBREAK_ZH, "ruled_out",
                            f"no diagnosis going round the region holds most of the claims: {g} on {share:.0%} of them")
    k, lam, lp = float(ef["area_count"][i]), float(ef["area_expected"][i]), float(ef["outbreak_log10_p"][i])
    if lam <= 0.0:
        return benign_check("outbreak_diagnosis", OUTBREAK_ZH, "not_testable",
                            f"{share:.0%} of the claims are diagnosis group {g}, but the provider's region is unknown")
    detail = (f"{share:.0%} of the claims are diagnosis group(s) {g}; the region's other providers settled {k:.0f} claims "
              f"of {g} in the days around the episode against {lam:.1f} expected at their rate on other days "
              f"(×{k / lam:.1f}, log10 p {lp:.1f})")
    if float(surprise(lp, max(n_eps, 1))) > 0 and k >= 2.0 * lam:
        return benign_check("outbreak_diagnosis", OUTBREAK_ZH, "explains", detail, weight)
    return benign_check("outbreak_diagnosis", OUTBREAK_ZH, "ruled_out", detail)


#: how far (minutes) from the usual start time of a monthly schedule's sessions an episode on its day may start
SCHEDULE_MINUTES = 120.0
#: a unit may keep up to this many monthly days (one per chronic programme); the share of the test's
#: level given to m days (a weighted Bonferroni over m: ½, ¼, ⅛, ⅛)
SCHEDULE_WEIGHTS = (0.5, 0.25, 0.125, 0.125)


def _schedule_check(kept: list[dict], weight: float, n_units: int) -> tuple[dict, np.ndarray]:
    """Monthly schedule (慢病取药日, a care home's monthly settlement): the episodes fall within a
    day of a few days of the month far more often than days drawn at random would. A pharmacy
    may keep several such days (one per chronic programme), so the days are picked one after
    another, each the one holding most of the episodes left, and for m = 1 … 4 days the episodes
    on them are tested together: ``C(31, m) · P(Binomial(n, 3m/31) ≥ covered)``, at the level
    share :data:`SCHEDULE_WEIGHTS` gives m, beyond the bar of the units tested. Each day holds at
    least three episodes in three months, the days together four months or more. A schedule
    keeps its hours: an episode on the day that starts more than :data:`SCHEDULE_MINUTES` from
    the median start of the day's episodes (a night burst after a refill morning) is not on it.
    Returns the check and which episodes are on the days found.

    >>> eps = [{"start": f"2024-{m:02d}-{d}T09:00:00"} for m in range(1, 7) for d in (11, 19)]
    >>> chk, on = _schedule_check(eps, 0.2, 1000)
    >>> chk["outcome"], int(on.sum())
    ('explains', 12)
    """
    zh = "按月固定日期的批量结算（慢病取药日等）"
    none = np.zeros(len(kept), dtype=bool)
    n = len(kept)
    if n < 4:
        return benign_check("monthly_schedule", zh, "ruled_out", f"{n} episode(s): too few to see a monthly schedule"), none
    starts = np.array([np.datetime64(pd.Timestamp(b["start"]), "s") for b in kept])
    month = starts.astype("datetime64[M]").astype(np.int64)
    dom = (starts.astype("datetime64[D]") - starts.astype("datetime64[M]")).astype(np.int64) + 1  # day of the month
    tod = (starts - starts.astype("datetime64[D]")).astype(np.int64) / 60.0  # minute of the day
    days = np.array([(np.abs(((dom - d + 15) % 31) - 15) <= 1) for d in range(1, 32)])
    on = none.copy()
    best: tuple[float, np.ndarray, str] | None = None  # (log10 p, episodes on the days, detail)
    first = ""
    for m, w in enumerate(SCHEDULE_WEIGHTS, start=1):
        hits = days & ~on
        for row in hits:  # a schedule keeps its hours
            if row.any():
                row &= np.abs(tod - np.median(tod[row])) <= SCHEDULE_MINUTES
        sums = hits.sum(axis=1)
        day = int(np.argmax(sums))
        sel = hits[day]
        if int(sums[day]) < 3 or unique_ints(month[sel]).size < 3:
            if m == 1:
                first = (f"{int(sums[day])} of {n} episodes on one day of the month (±1) over "
                         f"{unique_ints(month[sel]).size} months")
            break
        on = on | sel
        cov, months = int(on.sum()), int(unique_ints(month[on]).size)
        lp = min(0.0, float(np.log10(math.comb(31, m) / w)) + float(binom_log10_sf(cov, n, min(1.0, 3.0 * m / 31.0))))
        detail = f"{cov} of {n} episodes on {m} day(s) of the month (±1) over {months} months (log10 p {lp:.1f})"
        first = first or detail
        if cov >= 4 and months >= 4 and (best is None or lp < best[0]):
            best = (lp, on.copy(), detail)
    if best is not None and float(surprise(best[0], max(n_units, 1))) > 0:
        return benign_check("monthly_schedule", zh, "explains", best[2], weight), best[1]
    return benign_check("monthly_schedule", zh, "ruled_out", best[2] if best is not None else first), none


def _per_episode(name: str, zh: str, results: list[dict], n_eps: int) -> dict:
    """One unit-level check from per-episode outcomes: explains when every episode is explained,
    partial (its episodes left out of the score) when some are, else the first episode's outcome."""
    hits = [r for r in results if r["outcome"] == "explains"]
    if hits and len(hits) == n_eps:
        return benign_check(name, zh, "explains", f"every episode: {hits[0]['detail']}", hits[0]["factor"])
    if hits:
        return benign_check(name, zh, "partial", f"{len(hits)} of {n_eps} episode(s) left out of the score: {hits[0]['detail']}")
    return results[0] if results else benign_check(name, zh, "ruled_out", "")


def unit_finding(unit: str, rows_all: pd.DataFrame, eps_ix: np.ndarray, ef: dict, facts: dict, *, precision: str,
                 window: int, n_tests: int, n_eps_all: int, n_units: int, min_surprise: float, min_episodes: int,
                 institution_weight: float, campaign_weight: float, outbreak_weight: float = 0.2) -> Finding | None:
    """The finding of one unit's episodes (``eps_ix``: their indices in ``ef``, from
    :func:`episode_facts`), or None when fewer than ``min_episodes`` stay."""
    kept, dropped, eps = [], [], []
    for i in eps_ix.tolist():
        c, lam, ratio = int(ef["c"][i]), float(ef["lam"][i]), float(ef["ratio"][i])
        lp = float(ef["log10_p"][i])
        b = {
            "start": pd.Timestamp(np.datetime64(int(ef["t_min"][i]), "s")),
            "end": pd.Timestamp(np.datetime64(int(ef["t_max"][i]), "s")), "claims": int(ef["n_rows"][i]),
            "distinct_cards": int(ef["distinct_cards"][i]), "window_cards": c,
            "expected_in_window": round(lam, 3), "day_volume_ratio": round(ratio, 3),
            "surprise": round(-lp, 1), "median_amount": round(float(ef["median_amount"][i]), 2),
            "amount_cv": round(float(ef["amount_cv"][i]), 4),
            "odd_hour_share": round(float(ef["odd"][i] / ef["n_rows"][i]), 3),
        }
        if -lp < min_surprise:
            dropped.append(b)
            continue
        kept.append(b)
        eps.append((i, lp))
    if len(kept) < min_episodes:
        return None
    # legal explanations of single episodes (a care home's batch, an exam morning, a monthly
    # refill day) take those episodes out of the score; the unit's other episodes still count
    res = [_residents_check(ef, i, facts, institution_weight) for i, _ in eps]
    camp = [_campaign_check(ef, i, facts, campaign_weight) for i, _ in eps]
    outb = [_outbreak_check(ef, i, outbreak_weight, n_eps_all) for i, _ in eps]
    why = [("institution_batch" if r["outcome"] == "explains" else "group_exam_or_vaccination" if c["outcome"] == "explains"
            else "outbreak_diagnosis" if o["outcome"] == "explains" else None) for r, c, o in zip(res, camp, outb)]
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
        _per_episode("outbreak_diagnosis", OUTBREAK_ZH, [o if w in ("outbreak_diagnosis", None) else
                     benign_check("outbreak_diagnosis", OUTBREAK_ZH, "ruled_out", "") for o, w in zip(outb, why)], n),
        _per_episode("monthly_schedule", sched["zh"], sched_results, n),
        benign_check("own_hours_24h_or_chain", "24小时/连锁药店自身营业规律", "ruled_out",
                     f"the expected count already uses this unit's own weekday-hour median and its peer group's "
                     f"({ef['cols']['peer_group'][int(ef['first'][eps[0][0]])]}) hour profile"),
    ]
    if n and all(w is not None for w in why):
        # every episode has a legal explanation, if not one and the same (a group exam in the morning,
        # an outbreak's pupils in the afternoon): each explaining check weighs by its share of them
        # (one check for all: its weight, as ``explains``), so the unit is not scored as unexplained
        weight = {"institution_batch": institution_weight, "group_exam_or_vaccination": campaign_weight,
                  "outbreak_diagnosis": outbreak_weight, "monthly_schedule": campaign_weight}
        for c in checks:
            if c["outcome"] == "partial" and c["check"] in weight:
                c["factor"] = round(float(weight[c["check"]]) ** (why.count(c["check"]) / n), 4)
    factor = benign_factor(checks)
    scored = [i for i, w in enumerate(why) if w is None] or list(range(n))
    s_episodes = sum(float(surprise(eps[i][1], n_tests)) for i in scored)
    lp_amount, lp_nm = 0.0, 0.0
    for i in scored:
        e = eps[i][0]
        lp_amount += float(ef["log10_p_amount"][e])
        if pd.notna(ef["nm_rate"][e]):
            lp_nm += float(ef["log10_p_nm"][e])
    order, bounds = ef["order"], ef["bounds"]
    idx = np.concatenate([order[bounds[eps[i][0]]: bounds[eps[i][0] + 1]] for i in scored])  # rows in rows_all
    cols = ef["cols"]
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
    # the scored episodes' claims, from columns (sums and means in row order, as pandas takes them)
    n_claims = int(idx.size)
    odd = float(int(cols["odd_hour"][idx].sum()) / n_claims)
    nm = cols["nonmedical"][idx]
    has_nm = bool((~np.isnan(nm)).any())
    nm_share = float(np.nan_to_num(nm, nan=0.0).sum() / float(n_claims)) if has_nm else None
    card_ids = cols["card_id"][idx]
    cards = sorted(set(card_ids[~pd.isna(card_ids)].tolist()))
    fund_amounts = cols["fund_amount"][idx]
    fund = float(np.where(np.isnan(fund_amounts), 0.0, fund_amounts).sum())
    t_rows = cols["start_time"][idx]
    first = int(idx[0])
    utype = cols["unit_type"][first]
    ptype, pid = cols["provider_type"][first], cols["provider_id"][first]
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
        start=pd.Timestamp(np.datetime64(int(t_rows.min()), "s")),
        end=pd.Timestamp(np.datetime64(int(t_rows.max()), "s")),
        entities=ents,
        claims=cols["claim_id"][idx],
        summary=(
            f"{where}出现{n_ep}次集中刷卡，最多{span_zh}{top['distinct_cards']}张不同医保卡"
            f"（金额中位{top['median_amount']:.0f}元{odd_zh}），基金{yuan(fund)}"
            f" / {where_en}: {n_ep} burst(s), up to {top['distinct_cards']} different cards {span_en}"
            f" (median amount {top['median_amount']:.0f}{odd_en})"
        ),
        evidence={
            "unit_type": utype,
            "peer_group": cols["peer_group"][first],
            "bursts": kept_all,
            "episodes": n_ep,
            "distinct_cards": len(cards),
            "claims_count": n_claims,
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
