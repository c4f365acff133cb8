"""What surrounds a card-burst episode: the area's and the city's volume that day, how unusual
its amounts are for the unit, and the unit's normal share of non-medical items.

Computed once per episode inside the ``burst_windows`` projection (which holds the claims),
so the detector can test the legal explanations without reading the claims again:

* ``day_ratio`` — claims of the *other* providers of the unit's peer group in its region, of
  its region, and of the whole city on the episode's day, against their median on the same
  weekday over the data's weeks (+1 smoothed), when that day is a peak (above Q3 + 1.5 IQR of
  those weekdays), else 1; the largest of the three, the areas' over the days around the
  episode (:data:`OUTBREAK_DAYS`): an outbreak lifts the area's clinics for days, an
  end-of-month or holiday peak the city on the day;
* ``band_in`` / ``band_share`` — the episode's claims within one median absolute deviation of
  its median amount, and the share of the unit's *other* claims in that band (Jeffreys-smoothed):
  many cards at one price where the unit rarely sells at that price is 套现-like;
* ``dx_group`` / ``dx_share`` / ``outbreak_log10_p`` / ``outbreak_ratio`` — the diagnosis groups
  (first three characters of the code) of the episode that surge in its region, and their share of
  the episode's claims: each group holding a tenth of the episode is tested by the Poisson tail of
  its claims at the *other* providers of the region over the days around the episode
  (:data:`OUTBREAK_DAYS`) against the region's own rate of it on the other days. A burst of the
  diagnoses going round the area is an outbreak (a school's influenza cluster, a district's
  influenza wave coded J10 / J11 / J06), not cards swiped for cash;
* ``nonmedical`` (per claim) and ``unit_nm_rate`` — item share in category ``non_medical`` of
  each episode claim, and the share of the unit's other claims (an evenly spaced sample) that
  carry any; NaN without ``claim_items``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._fast import isin, unique_ints

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["day_ratios", "area_outbreaks", "amount_bands", "non_medical", "background_sample", "NM_SAMPLE", "CAMPAIGN_WORDS"]

DAY_S = 86_400
#: background claims sampled per unit for its normal non-medical share
NM_SAMPLE = 200
#: item names that mark an exam or vaccination session (besides category ``exam``)
CAMPAIGN_WORDS = ("疫苗", "接种", "体检", "筛查", "vaccin", "screening", "check-up")
#: an area's outbreak is looked for from this many days before to this many after the episode
#: (a cluster often opens a wave: influenza incubates 1-4 days and a wave runs 1-3 weeks)
OUTBREAK_DAYS = (3, 7)


def _weekday_fences(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per weekday slot (``day % 7``): the median and Tukey's fence (Q3 + 1.5 IQR) of
    ``series`` over the days of that slot."""
    D = series.size
    W = -(-D // 7)
    m = np.full(W * 7, np.nan)
    m[:D] = series
    q1, med, q3 = np.nanpercentile(m.reshape(W, 7), [25, 50, 75], axis=0)
    return med, q3 + 1.5 * (q3 - q1)


def _peak_ratios(series: np.ndarray, days: np.ndarray) -> np.ndarray:
    """``(series[d] + 1) / (median + 1)`` over the days of ``d``'s weekday when ``series[d]`` is
    above Tukey's fence (Q3 + 1.5 IQR) of those days — a real peak, not the day-to-day noise —
    else 1, for each ``d`` in ``days``.

    >>> s = np.array([10.0] * 70); s[35] = 40.0
    >>> _peak_ratios(s, np.array([35, 36])).round(2).tolist()
    [3.73, 1.0]
    """
    med, fence = _weekday_fences(series)
    slot = days % 7
    x = series[days]
    return np.where(x > fence[slot], (x + 1.0) / (med[slot] + 1.0), 1.0)


def day_ratios(day: np.ndarray, prov: np.ndarray, areas: list[np.ndarray], ep_day: np.ndarray,
               ep_prov: np.ndarray) -> np.ndarray:
    """The largest peak ratio of each episode's day over its areas and the city (see module
    docstring); 1 when no area was at a peak.

    ``day``: day number of every claim (from 0), ``prov``: its provider code (-1 none),
    ``areas``: per area kind, an area code per provider (-1 unknown) — e.g. the provider's
    region, its peer group within the region; ``ep_day``/``ep_prov``: per episode.
    """
    D = int(day.max()) + 1 if day.size else 1
    city = np.bincount(day, minlength=D).astype(np.float64)
    counts = []
    for code in areas:
        a = np.where(prov >= 0, code[np.maximum(prov, 0)], -1)
        n = int(code.max()) + 1 if code.size and code.max() >= 0 else 1
        ok = a >= 0
        counts.append(np.bincount(a[ok] * D + day[ok], minlength=n * D).reshape(n, D).astype(np.float64))
    out = np.ones(ep_day.size)
    eps = unique_ints(ep_prov)
    slot = np.searchsorted(eps, prov)  # each claim's episode provider, when it is one (one pass, not one per provider)
    sel = (slot < eps.size) & (eps[np.minimum(slot, max(eps.size - 1, 0))] == prov) if eps.size else np.zeros(prov.size, bool)
    own_mat = np.bincount(slot[sel] * D + day[sel], minlength=eps.size * D).reshape(eps.size, D).astype(np.float64)
    ep_i = np.searchsorted(eps, ep_prov)  # each episode's provider row in own_mat
    near = np.clip(ep_day[:, None] + np.arange(-OUTBREAK_DAYS[0], OUTBREAK_DAYS[1] + 1)[None, :], 0, D - 1)
    # the city's other providers on the episode's day, then each area's around it: fences of all
    # providers' series at once (one percentile per weekday slot and provider, as one by one)
    r = _peak_ratio_rows(city[None, :] - own_mat, ep_i, ep_day[:, None])[:, 0]
    for code, cnt in zip(areas, counts):
        c = np.where(eps >= 0, code[np.maximum(eps, 0)], -1) if eps.size else np.zeros(0, np.int64)
        rows = np.flatnonzero(c >= 0)
        other = cnt[c[rows]] - own_mat[rows]
        rows, other = rows[other.sum(axis=1) > 0], other[other.sum(axis=1) > 0]
        at = np.full(eps.size, -1)
        at[rows] = np.arange(rows.size)
        k = np.flatnonzero(at[ep_i] >= 0)
        if k.size:
            r[k] = np.maximum(r[k], _peak_ratio_rows(other, at[ep_i[k]], near[k]).max(axis=1))
    out[:] = r
    return out


#: a diagnosis group takes part in an episode's outbreak test when it holds at least this share of
#: the episode's claims (at most :data:`OUTBREAK_GROUPS` groups, the largest, per episode)
OUTBREAK_MIN_SHARE = 0.1
OUTBREAK_GROUPS = 5


def area_outbreaks(dx: pd.Categorical, day: np.ndarray, prov: np.ndarray, region: np.ndarray,
                   ep_rows: list[np.ndarray], ep_day: np.ndarray, ep_prov: np.ndarray) -> dict[str, np.ndarray]:
    """Per episode: the diagnosis groups surging at the other providers of its region around the
    episode, and the share of the episode's claims they hold (see module docstring).

    An outbreak is coded under several groups (influenza J10 / J11 with acute upper respiratory
    infections J06), so every group holding :data:`OUTBREAK_MIN_SHARE` of the episode (the
    largest :data:`OUTBREAK_GROUPS`) is tested: the Poisson tail of its claims at the region's
    other providers over :data:`OUTBREAK_DAYS` against the region's rate of it on the other days.
    A group *surges* when that tail passes the bar of the episodes × groups tested and the count is
    at least twice the expected.

    ``dx``: every claim's diagnosis code (a categorical: each distinct code is grouped once);
    ``day``: its day number (from 0, any value where ``prov`` is -1); ``prov``: its provider code
    (-1 none); ``region``: a region code per provider (-1 unknown); ``ep_rows``: each episode's claim rows; ``ep_day``/``ep_prov``: per episode.
    Returns ``dx_group`` (the surging groups joined by "+", else the most common group; None
    without a diagnosis), ``dx_share`` (their share of the episode's claims), ``area_count`` and
    ``area_expected`` (summed over those groups), ``log10_p`` (the weakest surging group's; 0
    where not tested) and ``ratio`` (count over expected).

    >>> dx = pd.Categorical(["J11.1"] * 3 + ["J11.0"] * 30 + ["K29.7"] * 60)
    >>> day = np.r_[0, 0, 0, np.full(30, 20), np.arange(60)]
    >>> prov, region = np.r_[0, 0, 0, np.ones(90, np.int64)], np.array([0, 0])
    >>> o = area_outbreaks(dx, day, prov, region, [np.arange(3)], np.array([20]), np.array([0]))
    >>> o["dx_group"].tolist(), o["dx_share"].tolist(), o["area_count"].tolist(), bool(o["log10_p"][0] < -10)
    (['J11'], [1.0], [30.0], True)

    An influenza wave coded J10, J11 and J06, none of them on half the episode's claims:

    >>> dx = pd.Categorical(["J10", "J11", "J06", "J06"] + ["J10"] * 20 + ["J11"] * 20 + ["J06"] * 20 + ["K29"] * 60)
    >>> day = np.r_[[30] * 4, np.full(60, 31), np.arange(60)]
    >>> prov = np.r_[[0] * 4, np.ones(120, np.int64)]
    >>> o = area_outbreaks(dx, day, prov, region, [np.arange(4)], np.array([30]), np.array([0]))
    >>> o["dx_group"].tolist(), o["dx_share"].tolist(), o["area_count"].tolist()
    (['J06+J10+J11'], [1.0], [60.0])
    """
    n = len(ep_rows)
    out = {"dx_group": np.full(n, None, dtype=object), "dx_share": np.zeros(n), "area_count": np.zeros(n),
           "area_expected": np.zeros(n), "log10_p": np.zeros(n), "ratio": np.ones(n)}
    if n == 0 or len(dx) == 0:
        return out
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._nulls import poisson_log10_sf

    # each distinct code's group (first three characters, upper case; None without a code), once
    cats = pa.array(np.asarray(dx.categories, dtype=object), type=pa.string(), from_pandas=True)
    cat_group = np.asarray(pc.utf8_upper(pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(cats), 0, 3))
                           .to_numpy(zero_copy_only=False), dtype=object)
    codes = np.asarray(dx.codes)

    def through(per_code: np.ndarray, c: np.ndarray, null: Any) -> np.ndarray:
        return np.append(per_code, np.array([null], dtype=per_code.dtype))[np.where(c >= 0, c, per_code.size)]

    g_rows = through(cat_group, codes[np.concatenate(ep_rows)], None)
    bounds = np.r_[0, np.cumsum([r.size for r in ep_rows])]
    cand: list[tuple[int, str, float]] = []  # (episode, group, share) to test
    for e in range(n):
        g = pd.Series(g_rows[bounds[e]: bounds[e + 1]], dtype=object).dropna()
        g = g[g != ""]
        if len(g):
            vc = g.value_counts() / float(bounds[e + 1] - bounds[e])
            out["dx_group"][e] = str(vc.index[0])
            out["dx_share"][e] = float(vc.iloc[0])
            cand += [(e, str(k), float(v)) for k, v in vc.iloc[:OUTBREAK_GROUPS].items() if v >= OUTBREAK_MIN_SHARE]
    # the surge of each candidate group among the region's other providers
    ep_reg = np.where(ep_prov >= 0, region[np.maximum(ep_prov, 0)], -1) if region.size else np.full(n, -1)
    cand = [c for c in cand if ep_reg[c[0]] >= 0]
    if not cand:
        return out
    want = sorted({g for _, g, _ in cand})
    # each claim's candidate group as a position in ``want`` (-1: none), through its code's group
    code_all = through(pd.Index(want).get_indexer(pd.Index(cat_group, dtype=object)), codes, -1)
    rows = np.flatnonzero((code_all >= 0) & (prov >= 0))
    gcode = code_all[rows].astype(np.int64)
    del code_all
    r_prov, r_day = prov[rows].astype(np.int64), day[rows].astype(np.int64)
    r_reg = region[r_prov].astype(np.int64)
    D = int(day[prov >= 0].max()) + 1 if (prov >= 0).any() else 1
    # claims per (group, region, day) and (group, provider, day) as sorted composite keys: a window's
    # count is two binary searches (no pass over the claims per episode)
    n_reg, n_prov = int(region.max(initial=0)) + 1, int(prov.max(initial=0)) + 1
    by_reg = np.sort((gcode * n_reg + r_reg)[r_reg >= 0] * D + r_day[r_reg >= 0])
    by_prov = np.sort((gcode * n_prov + r_prov) * D + r_day)
    del rows, r_prov, r_day, r_reg, gcode

    def count(keys: np.ndarray, base: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return (np.searchsorted(keys, base * D + hi, side="right") - np.searchsorted(keys, base * D + lo, side="left")).astype(np.float64)

    ce = np.array([c[0] for c in cand], dtype=np.int64)
    cg = pd.Index(want).get_indexer([c[1] for c in cand]).astype(np.int64)
    lo = np.maximum(ep_day[ce].astype(np.int64) - OUTBREAK_DAYS[0], 0)
    hi = np.minimum(ep_day[ce].astype(np.int64) + OUTBREAK_DAYS[1], D - 1)
    zero, last = np.zeros_like(lo), np.full_like(hi, D - 1)
    kr, kp = cg * n_reg + ep_reg[ce].astype(np.int64), cg * n_prov + ep_prov[ce].astype(np.int64)
    # the region's other providers: the region's count less the episode's own provider's
    k_all = count(by_reg, kr, lo, hi) - count(by_prov, kp, lo, hi)
    tot = count(by_reg, kr, zero, last) - count(by_prov, kp, zero, last)
    width = (hi - lo + 1).astype(np.float64)
    # the region's rate of the group on the other days (+½, so a group never seen there is not
    # expected at rate 0)
    lam_all = (tot - k_all + 0.5) / np.maximum(D - width, 1.0) * width
    lp_all = np.asarray(poisson_log10_sf(k_all, lam_all), dtype=np.float64)
    bar = -np.log10(float(max(len(cand), 1)))
    tested: dict[int, list[tuple[str, float, float, float, float]]] = {}
    for i, (e, grp, share) in enumerate(cand):
        tested.setdefault(e, []).append((grp, share, float(k_all[i]), float(lam_all[i]), float(lp_all[i])))
    for e, tests in tested.items():
        surging = [t for t in tests if t[4] < bar and t[2] >= 2.0 * t[3]]
        use = sorted(surging) if surging else tests[:1]  # none surges: the most common group's test, as a record
        out["dx_group"][e] = "+".join(t[0] for t in use)
        out["dx_share"][e] = float(sum(t[1] for t in use))
        out["area_count"][e] = float(sum(t[2] for t in use))
        out["area_expected"][e] = float(sum(t[3] for t in use))
        out["log10_p"][e] = float(max(t[4] for t in use))
        out["ratio"][e] = out["area_count"][e] / out["area_expected"][e]
    return out


def _peak_ratio_rows(series: np.ndarray, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
    """:func:`_peak_ratios` for many series at once: ``series`` (n, D), and for each query ``q``
    the ratios of row ``rows[q]`` at days ``days[q]`` (one row of days per query)."""
    med, fence = _weekday_fences_rows(series)
    slot = days % 7
    x = series[rows[:, None], days]
    r = rows[:, None]
    return np.where(x > fence[r, slot], (x + 1.0) / (med[r, slot] + 1.0), 1.0)


def _weekday_fences_rows(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_weekday_fences` of every row of ``series`` (n, D): (median, fence), each (n, 7).
    The slots of the last, partial week have one day fewer; each group of slots is one
    percentile call over a regular array (the same values as ``nanpercentile`` per column).

    >>> s = np.random.default_rng(0).poisson(9.0, (3, 66)).astype(float)
    >>> m, f = _weekday_fences_rows(s)
    >>> all(np.array_equal(np.stack(_weekday_fences(s[i])), np.stack([m[i], f[i]])) for i in range(3))
    True
    """
    n, D = series.shape
    W = -(-D // 7)
    full = D - (W - 1) * 7  # slots 0..full-1 have W days, the others W - 1
    if n == 0 or (full < 7 and W < 2):
        pairs = [_weekday_fences(x) for x in series]
        return (np.array([p[0] for p in pairs]).reshape(n, 7), np.array([p[1] for p in pairs]).reshape(n, 7))
    m = np.full((n, W * 7), np.nan)
    m[:, :D] = series
    m = m.reshape(n, W, 7)
    q = np.empty((3, n, 7))
    q[:, :, :full] = np.percentile(m[:, :, :full], [25, 50, 75], axis=1)
    if full < 7:
        q[:, :, full:] = np.percentile(m[:, : W - 1, full:], [25, 50, 75], axis=1)
    q1, med, q3 = q
    return med, q3 + 1.5 * (q3 - q1)


def amount_bands(amount: np.ndarray, unit_first: np.ndarray, unit_last: np.ndarray, order: np.ndarray,
                 ep_unit: np.ndarray, ep_pos: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(band_in, band_share) per episode: ``amount`` per claim, ``order`` the claims sorted by
    unit, ``unit_first``/``unit_last`` each unit's positions in it, ``ep_pos`` each episode's
    claim positions (original row numbers)."""
    band_in = np.zeros(len(ep_pos), dtype=np.int64)
    share = np.ones(len(ep_pos))
    for k, (uc, pos) in enumerate(zip(ep_unit.tolist(), ep_pos)):
        a = amount[pos]
        a = a[~np.isnan(a)]
        if a.size == 0:
            continue
        med = float(np.median(a))
        mad = float(np.median(np.abs(a - med)))
        lo, hi = med - mad, med + mad
        k_in = int(((a >= lo) & (a <= hi)).sum())
        unit_a = amount[order[unit_first[uc]: unit_last[uc] + 1]]
        unit_a = unit_a[~np.isnan(unit_a)]
        n_in = int(((unit_a >= lo) & (unit_a <= hi)).sum()) - k_in
        n_other = unit_a.size - a.size
        band_in[k] = k_in
        share[k] = (max(n_in, 0) + 0.5) / (max(n_other, 0) + 1.0)
    return band_in, share


def non_medical(store: Store, episode_ids: pd.Series,
                background: dict[int, np.ndarray]) -> tuple[pd.Series, dict[int, float], pd.Series | None]:
    """(share of non-medical item amount per episode claim, each unit's background rate of
    claims with non-medical items, share of exam/vaccine item amount per episode claim — see
    :data:`CAMPAIGN_WORDS`); empty / {} / None without ``claim_items``. ``background``: each unit's
    sampled claim ids (:func:`background_sample`'s rows, read). The items are read once for both."""
    if not store.has_table("claim_items"):
        return pd.Series(dtype="float64"), {}, None
    units = list(background)
    bg_ids = np.concatenate([np.asarray(background[u], dtype=object) for u in units] + [np.zeros(0, object)])
    bg_unit = np.repeat(np.arange(len(units)), [len(background[u]) for u in units])
    ids = pd.concat([pd.Series(episode_ids, dtype=object), pd.Series(bg_ids, dtype=object)],
                    ignore_index=True).drop_duplicates()
    items = store.items_by_claim(ids, ["category", "item_name", "amount"])
    if items.empty:
        return pd.Series(dtype="float64"), {}, None
    nm = items["amount"].where(items["category"] == "non_medical", 0.0).fillna(0.0)
    g = pd.DataFrame({"claim_id": items["claim_id"], "nm": nm, "amt": items["amount"].fillna(0.0)}).groupby("claim_id")
    tot = g["amt"].sum()
    share = (g["nm"].sum() / tot.where(tot > 0)).fillna(0.0)
    # each unit's background: which sampled claims have items (seen) and carry non-medical ones
    s = share.reindex(bg_ids).to_numpy(dtype=np.float64)
    seen = ~np.isnan(s)
    n_seen = np.bincount(bg_unit, weights=seen, minlength=len(units))
    n_nm = np.bincount(bg_unit, weights=seen & (np.nan_to_num(s) > 0), minlength=len(units))
    rates = {u: (float(n_nm[k]) + 0.5) / (float(n_seen[k]) + 1.0) for k, u in enumerate(units)}
    # exam/vaccination items of the episode claims (group exams, vaccination sessions)
    ep = items[isin(items["claim_id"], pd.Index(pd.unique(pd.Series(episode_ids, dtype=object))))]
    campaign = None
    if not ep.empty:
        name = ep["item_name"].astype("string").fillna("").str.lower()
        hit = (ep["category"] == "exam").fillna(False) | name.str.contains("|".join(CAMPAIGN_WORDS), regex=True)
        amt = ep["amount"].fillna(0.0)
        g = pd.DataFrame({"claim_id": ep["claim_id"], "hit": amt.where(hit, 0.0), "amt": amt}).groupby("claim_id")
        tot = g["amt"].sum()
        campaign = (g["hit"].sum() / tot.where(tot > 0)).fillna(0.0)
    return share, rates, campaign


def background_sample(order: np.ndarray, unit_first: np.ndarray, unit_last: np.ndarray, units: np.ndarray,
                      episode_rows: set[int] | np.ndarray) -> dict[int, np.ndarray]:
    """Per unit, up to :data:`NM_SAMPLE` of its non-episode claims (row numbers), evenly spaced."""
    ep = np.fromiter(episode_rows, dtype=np.int64) if isinstance(episode_rows, set) else np.asarray(episode_rows, np.int64)
    is_ep = np.zeros(int(max(order.max(initial=-1), ep.max(initial=-1))) + 1, dtype=bool)
    is_ep[ep] = True  # one mask for all units (not an isin per unit)
    out = {}
    for uc in units.tolist():
        rows = order[unit_first[uc]: unit_last[uc] + 1]
        rows = rows[~is_ep[rows]]
        if rows.size > NM_SAMPLE:
            rows = rows[np.linspace(0, rows.size - 1, NM_SAMPLE).astype(np.int64)]
        out[uc] = rows
    return out
