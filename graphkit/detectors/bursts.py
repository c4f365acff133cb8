"""``card_burst`` (留存/盗刷医保卡, 代刷, 套现): a terminal (or, without terminals, a pharmacy or
institution) reading many different cards in a short window — at odd hours, with similar
amounts, repeatedly.

Method
------
1. **Units.** Every claim is read on a *unit*: its terminal (``terminal_id`` at its
   provider), or its provider when the claim has no terminal. A unit belongs to a *peer group*: pharmacies, or institutions of
   one kind and level (e.g. ``hospital/3``).
2. **What is normal for this unit at this hour** (projection ``burst_windows``). The
   expected number of claims per hour at unit ``u``, weekday ``w`` and hour-of-day ``h`` is

   ``rate(u, w, h) = max(R_u · s_g(h), M_u(w, h), L_u(w, h), floor)``

   * ``R_u``: the unit's typical daily volume, the *median* weekly count over the unit's
     active span divided by 7 (a few burst nights do not move a median);
   * ``s_g(h)``: the peer group's share of claims in hour ``h`` (Laplace-smoothed), so a
     unit is compared with the opening hours of its peers;
   * ``M_u(w, h)``: the unit's own *median* count in that weekday-hour over its weeks —
     its own regular schedule (a nursing home's weekly group visit, a dialysis shift, the
     Monday-morning rush of a hub, the nights of a 24-hour pharmacy);
   * ``L_u(w, h)``: the same median over the ``2·local_weeks + 1`` weeks around the window
     only — a schedule that runs for a season (a rehabilitation course twice a week for
     two months) is that unit's normal while it runs;
   * ``floor``: ``floor_per_day / 24`` claims per hour (an unseen hour is not impossible).

   A busy chain pharmacy at noon has a large ``R_u · s_g(noon)``; a cohort that comes
   every week has a large ``M_u``; a pharmacy that is quiet at 23:00 has neither.
3. **Sliding windows.** For every claim, the claims of the same unit in
   ``[t, t + window_minutes)`` — and in a window ``long_window_factor`` times longer, for
   bursts spread over a whole evening — are counted with one ``searchsorted`` over the
   claims sorted by (unit, time). A window is *significant* when it holds at least
   ``min_cards`` distinct cards and the Poisson tail ``-log10 P(X ≥ cards | λ)`` reaches
   ``min_surprise``, with ``λ`` the rate integrated over the window's hour slices (each
   slice at the larger rate of its two ends). ``min_surprise`` 0 (default) sets it to one
   decade beyond the multiple-testing bar: ``log10(windows tested) + 1`` (about 8.3 for a
   10M-claim city, 6.5 for 150k claims). With dates only the window is one day (each day
   against the unit's own weekday median); with hours only it is a whole number of hours.
4. **Episodes.** Overlapping significant windows of one unit merge into one *burst episode*.
   A unit with at least ``min_episodes`` episodes is a finding.

Scoring and benign checks: :mod:`graphkit.detectors._burst_checks` (decades of surprise beyond
the bar from the episodes, their amounts and non-medical items; outbreaks and peaks, care-home
batches, group exams and vaccination, monthly refill days tested) and
:mod:`graphkit.detectors._burst_context` (what surrounds an episode); ``docs/detectors-cards.md``.

Notes
-----
* A terminal that is used for bursts every single day has them as its own "normal": the
  peer term ``R_u · s_g(h)`` still catches it when the bursts fall outside its peers'
  hours, not when they fall in busy hours.
* Cohorts that come every week at the same weekday-hour are explained by ``M_u``; monthly
  ones by the schedule check.
* Pharmacies of a chain with at least :data:`MIN_CHAIN` stores are their own peer group (a
  24-hour chain's nights are its peers' normal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import poisson

from ..findings import Finding
from ..params import Param
from .._fast import unique_ints
from ..projections import projection
from . import register
from ._common import claims_time_precision
from ._burst_context import amount_bands, area_outbreaks, background_sample, day_ratios, non_medical
from ._burst_checks import burst_facts as _burst_facts, episode_facts as _episode_facts, unit_finding as _unit_finding

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["card_bursts", "burst_windows"]

DAY_S = 86_400
HOUR_S = 3_600
#: stores a pharmacy chain needs to be its own peer group (a peer group of one or two is the unit itself)
MIN_CHAIN = 3

EPISODE_COLUMNS = [
    "unit", "unit_type", "provider_type", "provider_id", "peer_group", "episode", "claim_id", "card_id",
    "patient_id", "start_time", "fund_amount", "total_amount", "odd_hour", "window_cards", "expected",
    "surprise", "diagnosis_code", "day_ratio", "dx_group", "dx_share", "area_count", "area_expected",
    "outbreak_log10_p", "band_in", "band_share", "nonmedical", "unit_nm_rate", "campaign",
]


def _kth_largest(group: np.ndarray, values: np.ndarray, k: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the ``k[g]``-th largest (0-based) of its values padded with zeros.

    ``group``/``values`` list only the non-zero entries; a group with fewer than ``k+1``
    entries gets 0. Used for medians over weeks where most cells are empty.
    """
    out = np.zeros(n_groups, dtype=np.float64)
    if group.size == 0:
        return out
    order = np.lexsort((-values, group))
    g, v = group[order], values[order]
    start = np.searchsorted(g, g, side="left")
    rank = np.arange(g.size) - start
    hit = rank == k[g]
    out[g[hit]] = v[hit]
    return out


def _codes(c: pd.Categorical | pd.Series) -> tuple[np.ndarray, pd.Index]:
    """(int32 codes, -1 for null; the values) of a categorical or a column."""
    if isinstance(c, pd.Categorical):
        return np.asarray(c.codes, dtype=np.int32), pd.Index(c.categories)
    codes, uniq = pd.factorize(c, use_na_sentinel=True)
    return codes.astype(np.int32), pd.Index(uniq)


def _at(values: pd.Index, codes: np.ndarray) -> np.ndarray:
    """``values[codes]`` as objects, None where a code is -1."""
    return np.append(np.asarray(values, dtype=object), None)[np.where(codes >= 0, codes, len(values))]


@projection("burst_windows")
def burst_windows(
    store: Store,
    *,
    window_minutes: int = 60,
    min_cards: int = 5,
    min_surprise: float = 8.0,
    floor_per_day: float = 0.1,
    local_weeks: int = 4,
    long_window_factor: int = 4,
) -> pd.DataFrame:
    """Claims of significant card-burst episodes, one row per claim (see module docstring)."""
    # every claim's numbers, and its providers, terminal and diagnosis as codes; the id strings
    # (claim, card, patient) are read only for the rows that need them (at 12.5M claims the
    # claims' strings were most of this projection's memory)
    claims = store.table("claims", ["start_time", "fund_amount", "total_amount"])
    empty = pd.DataFrame({c: pd.Series([], dtype="object") for c in EPISODE_COLUMNS})
    if claims.empty:
        return empty
    n = len(claims)
    coded = store.table_codes("claims", ["terminal_id", "institution_id", "pharmacy_id", "diagnosis_code"])
    # --- units: the terminal, else the provider
    term, term_ix = _codes(coded["terminal_id"])
    ci, ci_ix = _codes(coded["institution_id"])
    cp, cp_ix = _codes(coded["pharmacy_id"])
    dx = coded["diagnosis_code"]
    del coded
    prov = np.where(ci >= 0, ci, np.where(cp >= 0, len(ci_ix) + cp, -1))  # -1 only when both are null
    has_term = term >= 0
    # a unit is a (provider, terminal) pair — terminal ids need not be unique across
    # providers — or the provider alone for claims without a terminal
    raw = np.where(has_term, (prov + 1) * np.int64(len(term_ix) + 1) + term, -(prov + 2))
    unit = pd.factorize(raw)[0].astype(np.int64)
    ok = has_term | (prov >= 0)
    t = claims["start_time"].to_numpy("datetime64[s]").astype(np.int64)
    ok &= ~pd.isna(claims["start_time"]).to_numpy()
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return empty
    order = idx[np.argsort(unit[idx] * np.int64(1 << 34) + (t[idx] - t[idx].min()), kind="stable")]
    u, tt = unit[order], t[order]
    n_units = int(unit.max()) + 1 if n else 0
    # peer group of each claim's provider: pharmacy, or institution kind/level
    inst = store.table("institutions", ["institution_id", "kind", "level", "region"])
    kind = inst["kind"].astype("string").fillna("institution")
    lvl = inst["level"].astype("string").fillna("")
    grp_name = pd.Series(("institution:" + kind + "/" + lvl).to_numpy(), index=inst["institution_id"].to_numpy())
    inst_group = pd.Series(ci_ix).map(grp_name).fillna("institution:?").to_numpy(dtype=object)
    # pharmacies: their chain when it has MIN_CHAIN stores (a 24-hour chain's nights are its
    # peers' normal), else all pharmacies
    phs = store.table("pharmacies", ["pharmacy_id", "chain"]) if store.has_table("pharmacies") else \
        pd.DataFrame({"pharmacy_id": pd.Series([], dtype="string"), "chain": pd.Series([], dtype="string")})
    chain = phs["chain"].astype("string").str.strip().replace("", pd.NA)
    big = chain.map(chain.value_counts()) >= MIN_CHAIN
    ph_name = pd.Series(np.where(big.fillna(False), "pharmacy:chain:" + chain.fillna(""), "pharmacy"), index=phs["pharmacy_id"].to_numpy())
    ph_group = pd.Series(cp_ix).map(ph_name).fillna("pharmacy").to_numpy(dtype=object)
    group_names = np.concatenate([inst_group, ph_group])
    gcodes, gnames = pd.factorize(pd.Series(group_names, dtype="object"))
    grp = np.where(prov >= 0, gcodes[np.maximum(prov, 0)] if len(gcodes) else 0, 0)[order]
    n_groups = max(len(gnames), 1)
    # --- time cells
    day = tt // DAY_S
    hour = (tt % DAY_S) // HOUR_S
    wd = (day + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    week = (day + 3) // 7
    # claims are sorted by (unit, time): per-unit spans and (unit, week) / (unit, day, hour)
    # cells are runs of equal keys, counted without another sort
    ufirst = np.searchsorted(u, np.arange(n_units), side="left")
    ulast = np.searchsorted(u, np.arange(n_units), side="right") - 1
    present = ulast >= ufirst
    first_wk = np.where(present, week[np.minimum(ufirst, u.size - 1)], 0)
    last_wk = np.where(present, week[np.maximum(ulast, 0)], 0)
    n_weeks = np.where(present, last_wk - first_wk + 1, 1)
    MW = int(n_weeks.max()) + 1

    def runs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        return start, np.diff(np.r_[start, key.size])

    # R_u: median weekly count / 7
    ws, wc = runs(u * MW + (week - first_wk[u]))
    r_u = _kth_largest(u[ws], wc.astype(np.float64), n_weeks // 2, n_units) / 7.0
    # M_u(w, h): median over weeks of the count in that weekday-hour
    ds, dc = runs((u * np.int64(1 << 20) + (day - day.min())) * 24 + hour)
    cell_r = (u[ds] * 7 + wd[ds]) * 24 + hour[ds]
    dh_key = cell_r * MW + (week[ds] - first_wk[u[ds]])
    o = np.argsort(dh_key, kind="stable")
    dh_keys, dh_counts = dh_key[o], dc[o]
    dh_cell = dh_keys // MW
    cs, _ = runs(dh_cell)
    cell_ids = dh_cell[cs]
    cell_inv = np.repeat(np.arange(cs.size), np.diff(np.r_[cs, dh_cell.size]))
    k_cell = n_weeks[cell_ids // (7 * 24)] // 2
    m_cell = _kth_largest(cell_inv, dh_counts.astype(np.float64), k_cell, cell_ids.size)
    # s_g(h): peer hour shares (Laplace-smoothed)
    gh = np.bincount(grp * 24 + hour, minlength=n_groups * 24).reshape(n_groups, 24).astype(np.float64)
    share = (gh + 1.0) / (gh.sum(axis=1, keepdims=True) + 24.0)
    # odd hours of a unit: its peers settle less than a uniform hour's share then, and the unit
    # itself is active in that hour on fewer than 10% of its active days
    dh_unit = dh_cell // (7 * 24)
    uh_days = np.bincount(dh_unit * 24 + dh_cell % 24, minlength=n_units * 24)
    us, _ = runs(u * np.int64(1 << 20) + (day - day.min()))
    u_days = np.bincount(u[us], minlength=n_units)
    # unit -> group (the unit's first claim)
    unit_grp = np.zeros(n_units, dtype=np.int64)
    unit_grp[present] = grp[ufirst[present]]
    # the per-claim arrays of the time cells are not needed beyond here (≈ 1 GB at 12.5M claims,
    # alive until the episodes' context otherwise)
    del day, wd, week, ds, dc, cell_r, dh_key, o, dh_cell, cs, cell_inv, k_cell, dh_unit, us, ws, wc
    del idx, unit, raw

    def rate(t_abs: np.ndarray, units: np.ndarray, local: bool = True) -> np.ndarray:
        d = t_abs // DAY_S
        h = (t_abs % DAY_S) // HOUR_S
        w = (d + 3) % 7
        c = (units * 7 + w) * 24 + h
        pos = np.minimum(np.searchsorted(cell_ids, c), cell_ids.size - 1)
        own = np.where(cell_ids[pos] == c, m_cell[pos], 0.0)
        peer = r_u[units] * share[unit_grp[units], h]
        base = np.maximum.reduce([own, peer, np.full(t_abs.size, floor_per_day / 24.0)])
        if not local or local_weeks == 0:
            return base
        # the same weekday-hour in the neighbouring weeks: a median over 2*local_weeks+1 weeks
        wk = (d + 3) // 7 - first_wk[units]
        near = np.zeros((t_abs.size, 2 * local_weeks + 1))
        for k, off in enumerate(range(-local_weeks, local_weeks + 1)):
            kk = c * MW + wk + off
            p2 = np.minimum(np.searchsorted(dh_keys, kk), dh_keys.size - 1)
            valid = (wk + off >= 0) & (wk + off < MW)
            near[:, k] = np.where(valid & (dh_keys[p2] == kk), dh_counts[p2], 0)
        return np.maximum(base, np.median(near, axis=1))

    def expected(t0: np.ndarray, units: np.ndarray, W: int, local: bool = True) -> np.ndarray:
        """Expected claims in [t0, t0 + W): hour slices, each at the larger rate of its two ends."""
        lam = np.zeros(t0.size)
        for k in range(-(-W // HOUR_S)):
            width = min(HOUR_S, W - k * HOUR_S)
            a = t0 + k * HOUR_S
            lam += (width / HOUR_S) * np.maximum(rate(a, units, local), rate(a + width - 1, units, local))
        return lam

    # --- sliding windows anchored at each claim, at two scales (short, and long_window_factor x)
    key = u * np.int64(1 << 40) + (tt - tt.min())
    scales = [int(window_minutes) * 60]
    if long_window_factor > 1:
        scales.append(int(window_minutes) * 60 * int(long_window_factor))
    found = []
    for W in scales:
        j = np.searchsorted(key, key + W, side="left")
        cnt = j - np.arange(key.size)
        cand = np.flatnonzero(cnt >= min_cards)
        if cand.size == 0:
            continue
        # cheap bound first: without the local median, lambda can only be smaller
        lam = expected(tt[cand], u[cand], W, local=False)
        cand = cand[-poisson.logsf(cnt[cand] - 1, lam) / np.log(10) >= min_surprise]
        lam = expected(tt[cand], u[cand], W)
        s_upper = -poisson.logsf(cnt[cand] - 1, lam) / np.log(10)
        keep = s_upper >= min_surprise
        cand, lam, jc = cand[keep], lam[keep], j[cand[keep]]
        if cand.size == 0:
            continue
        # distinct cards in each surviving window
        lens = jc - cand
        win = np.repeat(np.arange(cand.size), lens)
        pos = np.repeat(cand - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
        # the cards of only the claims inside candidate windows
        card_w, _ = _codes(store.table_rows("claims", ["card_id"], order[pos])["card_id"])
        span_c = np.int64(card_w.max() + 2)
        pairs = unique_ints(win * span_c + card_w + 1)
        ncards = np.bincount(pairs // span_c, minlength=cand.size)
        surprise = -poisson.logsf(ncards - 1, lam) / np.log(10)
        keep = (ncards >= min_cards) & (surprise >= min_surprise)
        found.append(pd.DataFrame({"start": cand[keep], "end": jc[keep], "lam": lam[keep], "c": ncards[keep],
                                   "s": surprise[keep]}))
    if not found:
        return empty
    wins = pd.concat(found, ignore_index=True).sort_values(["start", "end"], kind="stable")
    if wins.empty:
        return empty
    # --- episodes: overlapping windows of one unit. Positions are sorted by (unit, time) and a
    # window never reaches past its unit, so a window starts a new episode when it begins at
    # or after the furthest end of the windows before it
    cand, ends = wins["start"].to_numpy(), wins["end"].to_numpy()
    reach = np.maximum.accumulate(ends)
    new = np.r_[True, cand[1:] >= reach[:-1]]
    ep = np.cumsum(new) - 1
    ep_start = cand[new]
    ep_end = pd.Series(ends).groupby(ep).max().to_numpy()
    surprise, ncards, lam = wins["s"].to_numpy(), wins["c"].to_numpy(), wins["lam"].to_numpy()
    best = pd.DataFrame({"ep": ep, "s": surprise, "c": ncards, "lam": lam}).sort_values(
        ["ep", "s"], ascending=[True, False]).drop_duplicates("ep").sort_values("ep")
    lens = ep_end - ep_start
    rows = np.repeat(np.arange(ep_start.size), lens)
    posn = np.repeat(ep_start - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
    src = order[posn]
    ids = store.table_rows("claims", ["claim_id", "card_id", "patient_id"], src)
    is_inst = ci[src] >= 0
    ptype = np.where(is_inst, "institution", "pharmacy").astype(object)
    pid = np.where(is_inst, _at(ci_ix, ci[src]), _at(cp_ix, cp[src]))
    units_s = np.where(has_term[src], _at(term_ix, term[src]), ptype + ":" + pid.astype(str))
    out = pd.DataFrame(
        {
            "unit": pd.array(units_s, dtype="string"),
            "unit_type": np.where(has_term[src], "terminal", ptype),
            "provider_type": ptype,
            "provider_id": pid,
            "peer_group": np.asarray(gnames, dtype=object)[grp[posn]] if len(gnames) else "",
            "episode": rows,
            "claim_id": ids["claim_id"].to_numpy(dtype=object),
            "card_id": ids["card_id"].to_numpy(dtype=object),
            "patient_id": ids["patient_id"].to_numpy(dtype=object),
            "start_time": claims["start_time"].to_numpy()[src],
            "fund_amount": claims["fund_amount"].to_numpy(dtype=np.float64)[src],
            "total_amount": claims["total_amount"].to_numpy(dtype=np.float64)[src],
            "diagnosis_code": _at(pd.Index(dx.categories), np.asarray(dx.codes)[src]),
            "odd_hour": (share[grp[posn], hour[posn]] < 1.0 / 24.0)
            & (uh_days[u[posn] * 24 + hour[posn]] < 0.1 * np.maximum(u_days[u[posn]], 1)),
            "window_cards": best["c"].to_numpy()[rows],
            "expected": best["lam"].to_numpy()[rows],
            "surprise": best["s"].to_numpy()[rows],
        }
    )
    # --- the context of each episode (benign checks, amounts, items): see _burst_context
    ep_unit = u[ep_start]
    ep_rows = [order[a:b] for a, b in zip(ep_start.tolist(), ep_end.tolist())]
    day0 = int(tt.min() // DAY_S)
    prov_names = np.concatenate([np.asarray(ci_ix, dtype=object), np.asarray(cp_ix, dtype=object)])
    is_ph = np.r_[np.zeros(len(ci_ix), bool), np.ones(len(cp_ix), bool)]
    inst_region = pd.Series(inst["region"].to_numpy(dtype=object), index=inst["institution_id"].to_numpy(dtype=object))
    reg_vals = np.where(is_ph, pd.Series(prov_names).map(_pharmacy_regions(store)).to_numpy(dtype=object),
                        pd.Series(prov_names).map(inst_region).to_numpy(dtype=object)) if len(prov_names) else np.zeros(0, dtype=object)
    prov_region = pd.factorize(pd.Series(reg_vals, dtype=object), use_na_sentinel=True)[0].astype(np.int64)
    prov_group = np.asarray(gcodes, dtype=np.int64) if len(gcodes) else np.zeros(len(prov_names), dtype=np.int64)
    peer_area = np.where(prov_region >= 0, prov_group * (int(prov_region.max()) + 1) + prov_region, -1)
    day_r = day_ratios(tt // DAY_S - day0, prov[order], [prov_region, peer_area], tt[ep_start] // DAY_S - day0,
                       prov[order[ep_start]])
    day_all = np.where(ok, t // DAY_S - day0, 0)
    ob = area_outbreaks(dx, day_all, np.where(ok, prov, -1), prov_region, ep_rows,
                        tt[ep_start] // DAY_S - day0, prov[order[ep_start]])
    del day_all
    amounts = claims["total_amount"].to_numpy(dtype=np.float64)
    band_in, band_share = amount_bands(amounts, ufirst, ulast, order, ep_unit, ep_rows)
    bg = background_sample(order, ufirst, ulast, unique_ints(ep_unit), src)
    bg_rows = np.concatenate([r for r in bg.values()] + [np.zeros(0, np.int64)])
    bg_ids = store.table_rows("claims", ["claim_id"], bg_rows)["claim_id"].to_numpy(dtype=object)
    cuts = np.cumsum([0] + [r.size for r in bg.values()])
    nm, nm_rate, campaign = non_medical(store, out["claim_id"], {u: bg_ids[a:b] for u, a, b in zip(bg, cuts[:-1], cuts[1:])})
    out["day_ratio"] = day_r[rows]
    for c in ("dx_group", "dx_share", "area_count", "area_expected"):
        out[c] = ob[c][rows]
    out["outbreak_log10_p"] = ob["log10_p"][rows]
    out["band_in"] = band_in[rows]
    out["band_share"] = band_share[rows]
    out["nonmedical"] = out["claim_id"].map(nm).to_numpy(dtype=np.float64) if len(nm) else np.nan
    out["unit_nm_rate"] = pd.Series(u[posn]).map(nm_rate).to_numpy(dtype=np.float64) if nm_rate else np.nan
    out["campaign"] = out["claim_id"].map(campaign).to_numpy(dtype=np.float64) if campaign is not None else np.nan
    return out[EPISODE_COLUMNS]


def _pharmacy_regions(store: Store) -> pd.Series:
    if not store.has_table("pharmacies"):
        return pd.Series(dtype=object)
    ph = store.table("pharmacies", ["pharmacy_id", "region"])
    return pd.Series(ph["region"].to_numpy(dtype=object), index=ph["pharmacy_id"].to_numpy(dtype=object))


@register(
    "card_burst",
    [
        Param("window_minutes", 60, "int", low=5, high=24 * 60, doc="length of the sliding window (a day with dates only)"),
        Param("min_cards", 5, "int", low=3, doc="distinct cards a window needs (the Poisson surprise decides; this only bounds the work)"),
        Param("min_surprise", 0.0, "float", low=0.0,
              doc="-log10 Poisson tail a window needs; 0: one decade beyond the multiple-testing bar (log10 windows tested + 1)"),
        Param("min_episodes", 1, "int", low=1, doc="burst episodes a unit needs to be reported"),
        Param("floor_per_day", 0.1, "float", low=0.0, doc="smallest expected claims per day at any hour"),
        Param("local_weeks", 4, "int", low=0, high=26, doc="half-width in weeks of the local weekday-hour median"),
        Param("long_window_factor", 4, "int", low=1, high=24, doc="also scan windows this many times longer (1: off)"),
        Param("institution_weight", 0.2, "float", low=0.0, high=1.0,
              doc="score factor when most cards belong to residents of one care home or dormitory"),
        Param("campaign_weight", 0.2, "float", low=0.0, high=1.0,
              doc="score factor for a community/village clinic's daytime exam or vaccination session for its area"),
        Param("outbreak_weight", 0.2, "float", low=0.0, high=1.0,
              doc="score factor when most claims carry one diagnosis group that surged at the region's other providers then"),
    ],
    needs=("time:day",),
    prefers={
        "time:minute": "day-level windows against the unit's own weekday baseline; no minute- or hour-level claims",
        "terminals": "the provider is the unit (its terminals' claims pooled)",
        "items": "no non-medical-item test; group exams not confirmed by exam/vaccine items",
    },
)
def card_bursts(
    store: Store,
    *,
    window_minutes: int = 60,
    min_cards: int = 5,
    min_surprise: float = 0.0,
    min_episodes: int = 1,
    floor_per_day: float = 0.1,
    local_weeks: int = 4,
    long_window_factor: int = 4,
    institution_weight: float = 0.2,
    campaign_weight: float = 0.2,
    outbreak_weight: float = 0.2,
) -> list[Finding]:
    """Terminals (or providers) reading many different cards in bursts far above their own and
    their peers' normal for that hour.

    The score sums, in decades beyond the multiple-testing bar, each episode's Poisson surprise
    (its expected count raised when the area or the city was busy that day), the amounts' band
    test and the non-medical-item test against the unit's own other claims; legal look-alikes
    (care-home batch settlement, group exams, outbreaks and peaks) are tested and recorded.

    Examples
    --------
    >>> from graphkit.store import open_store                       # doctest: +SKIP
    >>> card_bursts(open_store("store"))[0].evidence["bursts"][0]   # doctest: +SKIP
    """
    precision = claims_time_precision(store)
    W, L = int(window_minutes), int(long_window_factor)
    if precision == "day":
        W, L = 24 * 60, 1
    elif precision == "hour":
        W = max(60, -(-W // 60) * 60)
    n_tests = max(int(store.row_counts().get("claims", 1)), 1) * (2 if L > 1 else 1)
    if min_surprise <= 0:
        min_surprise = float(np.log10(n_tests)) + 1.0
    rows_all = store.projection(
        "burst_windows", window_minutes=W, min_cards=min_cards,
        min_surprise=min_surprise, floor_per_day=floor_per_day, local_weeks=local_weeks,
        long_window_factor=L,
    )
    if rows_all.empty:
        return []
    n_eps_all = int(rows_all.groupby(["unit_type", "provider_type", "provider_id", "unit", "episode"]).ngroups)
    n_units = int(rows_all.groupby(["unit_type", "provider_type", "provider_id", "unit"]).ngroups)
    facts = _burst_facts(store, rows_all)
    ef = _episode_facts(rows_all, facts)
    # units in sorted key order (rows with a missing key belong to none, as in a groupby); each
    # unit's episodes as indices into ef
    g = rows_all.groupby(["unit_type", "provider_type", "provider_id", "unit"], sort=True).ngroup().to_numpy()
    ep_ix = np.searchsorted(ef["ids"], rows_all["episode"].to_numpy(np.int64))
    sel = ~np.isnan(g)
    pairs = unique_ints(g[sel].astype(np.int64) * np.int64(len(ef["ids"]) + 1) + ep_ix[sel])
    pg, pe = pairs // (len(ef["ids"]) + 1), pairs % (len(ef["ids"]) + 1)
    cuts = np.searchsorted(pg, np.arange(n_units + 1))
    units = rows_all["unit"].to_numpy(dtype=object)[ef["first"]]
    findings: list[Finding] = []
    for k in range(n_units):
        eps = pe[cuts[k]: cuts[k + 1]]
        f = _unit_finding(units[eps[0]], rows_all, eps, ef, facts, precision=precision, window=W, n_tests=n_tests,
                          n_eps_all=n_eps_all, n_units=n_units, min_surprise=min_surprise, min_episodes=min_episodes,
                          institution_weight=institution_weight, campaign_weight=campaign_weight,
                          outbreak_weight=outbreak_weight)
        if f is not None:
            findings.append(f)
    return findings


