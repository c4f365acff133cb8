"""``collusion_ring``, stage 1 — candidate pairs: the ``co_visit_pairs`` projection (people
settled together in uncrowded provider-day or doctor-day *baskets*, counted with a chunked
sparse product, with the joint days expected by chance and the days they could have met), the
``provider_activity`` projection and the unit schedules (:func:`schedule_days`,
:func:`central_span`) that serve as the day counts of every null in the detector, the Poisson and
binomial pair tails, and the pair filter (:func:`_edges`) that turns surviving pairs into edges
of the pair graph. See :mod:`graphkit.detectors.rings` for the method as a whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from .._fast import sorted_codes, unique_ints
from ..projections import projection, provider_codes

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store


_EMPTY_PAIRS = {
    "patient_a": "string", "patient_b": "string", "co_admissions": "int64", "expected_admissions": "float64",
    "possible_admissions": "float64", "co_visits": "int64", "expected_visits": "float64", "possible_visits": "float64",
    "bar_visits": "float64",
}


#: sorted unique values by one sort (numpy's hash-based ``unique`` is slower on big int64)
_uniq = unique_ints


def _uniq_below(x: np.ndarray, top: int, *, step: int = 1, width: int = 1) -> np.ndarray:
    """:func:`_uniq` of non-negative keys ``hi·step + lo`` (``lo < width ≤ step``, key < ``top``),
    by marking a table of ``(top / step)·width`` cells when that is not much larger than ``x``
    (no sort); else by sorting.

    >>> _uniq_below(np.array([2 * 8 + 1, 0, 2 * 8 + 1, 5]), 3 * 8, step=8, width=6).tolist()
    [0, 5, 17]
    """
    cells = -(-top // step) * width
    if len(x) == 0 or cells > max(2 * len(x), 1 << 16):
        return _uniq(x)
    hi, lo = np.divmod(x, step)
    mark = np.zeros(cells, bool)
    mark[hi * width + lo] = True
    hit = np.flatnonzero(mark)
    return (hit // width) * step + hit % width


def _runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, counts, inverse) of an already sorted array."""
    flag = np.empty(len(x), bool)
    if len(x):
        flag[0] = True
        np.not_equal(x[1:], x[:-1], out=flag[1:])
    start = np.flatnonzero(flag)
    return x[start], np.diff(np.r_[start, len(x)]), np.cumsum(flag) - 1


def _lookup(sorted_keys: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Index of each ``q`` in ``sorted_keys`` or -1."""
    if len(sorted_keys) == 0:
        return np.full(len(q), -1, np.int64)
    i = np.searchsorted(sorted_keys, q)
    i = np.minimum(i, len(sorted_keys) - 1)
    return np.where(sorted_keys[i] == q, i, -1)


def _index_of(sorted_keys: np.ndarray, q: np.ndarray) -> np.ndarray:
    """:func:`_lookup` for queries that are all in ``sorted_keys`` (non-negative): a direct table
    when the key range is small (one random read per query instead of a binary search).

    >>> _index_of(np.array([2, 5, 9]), np.array([9, 2, 5, 5])).tolist()
    [2, 0, 1, 1]
    """
    if len(sorted_keys) == 0:
        return np.full(len(q), -1, np.int64)
    top = int(sorted_keys[-1]) + 1
    if int(sorted_keys[0]) < 0 or top > max(4 * len(q), 1 << 20) or len(sorted_keys) >= 2**31:
        return _lookup(sorted_keys, q)
    table = np.empty(top, np.int32)
    table[sorted_keys] = np.arange(len(sorted_keys), dtype=np.int32)
    return table[q].astype(np.int64)


def _window_sizes(keys: np.ndarray, sizes: np.ndarray, window: int) -> np.ndarray:
    out = sizes.astype(np.int64).copy()
    for delta in range(-window, window + 1):
        if delta == 0:
            continue
        j = _lookup(keys, keys + delta)
        hit = j >= 0
        out[hit] += sizes[j[hit]]
    return out


def _mode_pairs(
    p: np.ndarray, u: np.ndarray, doc: np.ndarray, d: np.ndarray, *,
    n_patients: int, window: int, max_basket: int, min_co: int, null: str, thin: int = 0,
    chunk_flops: int = 4_000_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of patient codes with ≥ ``min_co`` joint baskets, and (``0 < thin < min_co``, no
    window) pairs with ≥ ``thin`` joint baskets where so few can pass (:func:`._ringthin._thin_pairs`):
    (a, b, count, expected, possible, bar).

    ``possible`` = ``Σ_unit min(n_a, n_b)``: the joint days the pair could have had; ``bar``:
    the decades of surprise a thin pair needs (its units' bar), NaN for the full stage.
    """
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, float), np.empty(0, float),
             np.empty(0, float))
    if len(p) == 0:
        return empty
    day0 = int(d.min())
    d = d - day0 + window
    span = int(d.max()) + window + 1
    NP = np.int64(n_patients)
    # --- provider-day baskets and their (windowed) sizes in distinct people
    ud = u * span + d
    udp = _uniq(ud * NP + p)
    bk, bsize, _ = _runs(udp // NP)
    split = _window_sizes(bk, bsize, window) > max_basket
    csplit = split[_index_of(bk, ud)]  # every provider-day is a basket key
    # --- crowded provider-days: split by doctor
    ndoc = np.int64(max(int(doc.max()) + 2, 1))
    ukey = u * ndoc + doc  # (provider, doctor); doc -1 never used for split baskets
    s_rows = csplit & (doc >= 0)
    sp_units = _uniq(ukey[s_rows])
    nprov = np.int64(int(u.max()) + 1)
    unit = np.where(csplit, np.int64(-1), u)
    unit[s_rows] = nprov + _lookup(sp_units, ukey[s_rows])  # split rows with a doctor: their (provider, doctor)
    if s_rows.any():
        sk = (unit[s_rows] * span + d[s_rows])
        skp = _uniq(sk * NP + p[s_rows])
        sbk, ssize, _ = _runs(skp // NP)
        too_big = sbk[_window_sizes(sbk, ssize, window) > max_basket]
    else:
        too_big = np.empty(0, np.int64)
    fk = np.where(unit >= 0, unit * span + d, -1)
    if len(too_big):
        fk[_lookup(too_big, fk) >= 0] = -1
    keep = fk >= 0
    ex = _uniq(fk[keep] * NP + p[keep])
    ex_key, ex_p = ex // NP, ex % NP
    basket_keys, _, col_ex = _runs(ex_key)
    # --- eligibility: a pair needs min_co joint baskets, so each member needs min_co baskets
    per_p = np.bincount(ex_p, minlength=n_patients)
    elig = np.flatnonzero(per_p >= min_co)
    row_of = np.full(n_patients, -1, np.int64)
    row_of[elig] = np.arange(len(elig))
    sel = row_of[ex_p] >= 0
    nB = len(basket_keys)
    E = sparse.csr_matrix(
        (np.ones(int(sel.sum()), np.int32), (row_of[ex_p[sel]], col_ex[sel])), shape=(len(elig), nB)
    )
    E.sum_duplicates()
    if window:
        # spread each eligible exact entry to the baskets of days d±δ of the same unit; a target
        # day is addressed as its own basket would be (split by this claim's doctor if crowded)
        kp = keep & (row_of[p] >= 0)
        rr, cc = [], []
        su_k = _lookup(sp_units, ukey[kp])
        for delta in range(-window, window + 1):
            t = d[kp] + delta
            tsplit_i = _lookup(bk, u[kp] * span + t)
            has = tsplit_i >= 0
            ts = np.zeros(len(t), bool)
            ts[has] = split[tsplit_i[has]]
            tunit = np.where(ts, np.where((su_k >= 0) & (doc[kp] >= 0), nprov + su_k, -1), u[kp])
            tk = np.where(has & (tunit >= 0), tunit * span + t, -1)
            col = _lookup(basket_keys, tk)
            ok = (tk >= 0) & (col >= 0)
            rr.append(row_of[p[kp][ok]])
            cc.append(col[ok])
        rr_a, cc_a = np.concatenate(rr), np.concatenate(cc)
        W = sparse.csr_matrix((np.ones(len(rr_a), np.int32), (rr_a, cc_a)), shape=(len(elig), nB))
        W.sum_duplicates()
        W.data[:] = 1
    else:
        W = E
    a, b, c = _pair_product(E, W, window=window, min_co=min_co, chunk_flops=chunk_flops)
    # --- unit schedules (the day counts D of the null below and of the thin-pair bar)
    bunit = basket_keys // span
    bday = basket_keys % span
    units, _, uinv = _runs(bunit)
    if null == "period":
        # admissions: uniform over the whole observation period — not the unit's own span,
        # which a hospital that exists for its ring shrinks to the ring's own weeks
        D = np.full(len(units), float(max(int(bday.max()) - int(bday.min()) + 1, 28)))
    else:
        # ambulatory: the unit's weekly schedule over its active span (:func:`schedule_days`)
        seen = np.bincount(uinv, minlength=len(units))
        # central span of the unit's person-days: ``ex`` holds one row per (basket, person), by basket
        first, last = central_span(uinv[col_ex], bday[col_ex], len(units))
        wk = _open_weekdays(uinv, bday - window + day0, len(units))
        D = np.maximum(schedule_days(first, last, seen, wk), 1.0)
    a, b, c = elig[a], elig[b], c
    bar = np.full(len(a), np.nan)
    if 0 < thin < min_co and not window:
        from ._ringthin import _thin_pairs

        ta, tb, tc, tbar = _thin_pairs(ex_p, col_ex, uinv, D, n_patients=n_patients, thin=thin, chunk_flops=chunk_flops)
        if len(ta):
            # pairs the full stage already holds keep their full count and the fixed bar
            new = _lookup(np.sort(a * NP + b), ta * NP + tb) < 0
            a, b, c = np.r_[a, ta[new]], np.r_[b, tb[new]], np.r_[c, tc[new]]
            bar = np.r_[bar, tbar[new]]
    if len(a) == 0:
        return empty
    # --- expected joint days under independence: sum over units of n_a * n_b * (2w+1) / D
    f = np.minimum((2 * window + 1) / D, 1.0)
    people = _uniq(np.r_[a, b])
    prow = np.full(n_patients, -1, np.int64)  # a direct table: one random read per entry, no search
    prow[people] = np.arange(len(people))
    row = prow[ex_p]
    sel = row >= 0
    N = sparse.csr_matrix(
        (np.ones(int(sel.sum()), np.float64), (row[sel], uinv[col_ex[sel]])), shape=(len(people), len(units)),
    )
    N.sum_duplicates()
    ia, ib = _index_of(people, a), _index_of(people, b)
    exp = np.empty(len(a))
    pos = np.empty(len(a))
    step = 1_000_000
    for s0 in range(0, len(a), step):
        Na, Nb = N[ia[s0:s0 + step]], N[ib[s0:s0 + step]]
        exp[s0:s0 + step] = Na.multiply(Nb) @ f
        pos[s0:s0 + step] = np.asarray(Na.minimum(Nb).sum(axis=1)).ravel()
    cap = np.minimum(per_p[a], per_p[b]).astype(float)
    exp = np.minimum(exp, cap)
    return a, b, c, exp, np.maximum(pos, c), bar


def _pair_product(E: sparse.csr_matrix, W: sparse.csr_matrix, *, window: int, min_co: int,
                  chunk_flops: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row pairs ``a < b`` of ``E·Wᵀ`` (``min(E·Wᵀ, W·Eᵀ)`` with a window) with ≥ ``min_co``
    joint baskets: (a, b, count)."""
    # K = E·Wᵀ (and min(E·Wᵀ, W·Eᵀ) with a window) in row chunks of bounded work; only pairs
    # a < b are kept, so the people are cut into column groups and a chunk of rows is multiplied
    # with its own group and the later ones only (about half the work of the full product)
    nB = E.shape[1]
    colsize = np.bincount(W.indices, minlength=nB)
    flops = E.multiply(colsize[None, :]).sum(axis=1).A.ravel() if E.nnz else np.zeros(E.shape[0])
    if window:
        flops = flops * 2
    groups = chunk_bounds(flops, max(float(flops.sum()) / _PAIR_GROUPS, 1.0))
    WT = [W[g0:g1].T.tocsr() for g0, g1 in zip(groups[:-1], groups[1:])]
    ET = [E[g0:g1].T.tocsr() for g0, g1 in zip(groups[:-1], groups[1:])] if window else WT
    A, B, C = [], [], []
    for gi, (g0, g1) in enumerate(zip(groups[:-1], groups[1:])):
        bounds = [g0 + x for x in chunk_bounds(flops[g0:g1], chunk_flops)]
        for r0, r1 in zip(bounds[:-1], bounds[1:]):
            Er, Wr = E[r0:r1], W[r0:r1]
            for gj in range(gi, len(WT)):
                K = Er @ WT[gj]
                if window:
                    K = K.minimum(Wr @ ET[gj])
                K.data[K.data < min_co] = 0  # threshold in place before any copy
                K.eliminate_zeros()
                K = K.tocoo()
                rows = K.row.astype(np.int64) + r0
                cols = K.col.astype(np.int64) + groups[gj]
                m = cols > rows
                A.append(rows[m])
                B.append(cols[m])
                C.append(K.data[m].astype(np.int64))
                del K, rows, cols, m
    del WT, ET
    a = np.concatenate(A) if A else np.empty(0, np.int64)
    b = np.concatenate(B) if B else np.empty(0, np.int64)
    c = np.concatenate(C) if C else np.empty(0, np.int64)
    return a, b, c


#: column groups of the pair product (``_mode_pairs``): chunk × later groups only
_PAIR_GROUPS = 8


def chunk_bounds(flops: np.ndarray, chunk_flops: float) -> list[int]:
    """Row boundaries cutting a sparse product into chunks of about ``chunk_flops`` work each."""
    bounds = [0]
    acc = 0.0
    for i, f in enumerate(flops):
        acc += f
        if acc >= chunk_flops:
            bounds.append(i + 1)
            acc = 0.0
    if bounds[-1] != len(flops):
        bounds.append(len(flops))
    return bounds


def _is_value(cat: pd.Categorical, value: str) -> np.ndarray:
    """Rows of ``cat`` equal to ``value``."""
    at = pd.Index(cat.categories, dtype=object).get_indexer([value])[0]
    return np.asarray(cat.codes) == at if at >= 0 else np.zeros(len(cat), dtype=bool)


@projection("co_visit_pairs")
def co_visit_pairs(
    store: Store, *, min_pair_visits: int = 2, min_pair_visits_ambulatory: int = 3, window_days: int = 1,
    max_basket: int = 40, ambulatory: bool = True, thin_pairs: bool = True,
) -> pd.DataFrame:
    """Patient pairs settled together repeatedly, with the joint days expected by chance.

    Columns: ``patient_a < patient_b``, ``co_admissions`` (admissions within ±``window_days``
    at one uncrowded provider-day or doctor-day), ``expected_admissions`` (by chance),
    ``possible_admissions`` (``Σ min(n_a, n_b)`` over the providers both use), and the same
    three for ambulatory care (``co_visits``: same-day outpatient / pharmacy settlements). A
    pair is listed when either count reaches its threshold (``min_pair_visits`` /
    ``min_pair_visits_ambulatory``); the other count is then 0 when below its own threshold.
    With ``thin_pairs``, pairs with two joint ambulatory days are listed too where two joint
    days could beat the unit's own bar (:func:`._ringthin._thin_pairs`); ``bar_visits`` is that bar in
    decades (NaN for pairs of the full stage).
    """
    cl = store.table("claims", ["start_time"])
    if cl.empty:
        return pd.DataFrame({k: pd.Series([], dtype=v) for k, v in _EMPTY_PAIRS.items()})
    coded = store.table_codes("claims", ["patient_id", "claim_type", "doctor_id"])
    pcode, pids = sorted_codes(coded["patient_id"])
    prov = provider_codes(store)[0].astype(np.int64)
    dcode = np.asarray(coded["doctor_id"].codes, dtype=np.int64)
    day = cl["start_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
    inpatient = _is_value(coded["claim_type"], "inpatient")
    del cl, coded
    valid = (prov >= 0) & (pcode >= 0)
    n = len(pids)
    results = {}
    modes = [("adm", inpatient & valid, window_days, min_pair_visits, "period")]
    if ambulatory:
        modes.append(("vis", ~inpatient & valid, 0, min_pair_visits_ambulatory, "active"))
    for name, m, w, mc, null in modes:
        results[name] = _mode_pairs(
            pcode[m].astype(np.int64), prov[m], dcode[m].astype(np.int64), day[m],
            n_patients=n, window=w, max_basket=max_basket, min_co=mc, null=null,
            thin=2 if (thin_pairs and name == "vis") else 0,
        )
    frames = []
    for name, (a, b, c, e, ps, bar) in results.items():
        frames.append(pd.DataFrame({"a": a, "b": b, f"co_{name}": c, f"exp_{name}": e, f"pos_{name}": ps,
                                    **({"bar_vis": bar} if name == "vis" else {})}))
    df = frames[0]
    for other in frames[1:]:
        df = df.merge(other, on=["a", "b"], how="outer")
    for name in ("adm", "vis"):
        if f"co_{name}" not in df:
            df[f"co_{name}"] = 0
            df[f"exp_{name}"] = 0.0
            df[f"pos_{name}"] = 0.0
    df = df.fillna({"co_adm": 0, "co_vis": 0, "exp_adm": 0.0, "exp_vis": 0.0, "pos_adm": 0.0, "pos_vis": 0.0})
    df = df.sort_values(["a", "b"], kind="stable")
    pid_arr = np.asarray(pids, dtype=object)
    return pd.DataFrame(
        {
            "patient_a": pd.array(pid_arr[df["a"].to_numpy(np.int64)], dtype="string"),
            "patient_b": pd.array(pid_arr[df["b"].to_numpy(np.int64)], dtype="string"),
            "co_admissions": df["co_adm"].to_numpy(np.int64),
            "expected_admissions": df["exp_adm"].to_numpy(float),
            "possible_admissions": df["pos_adm"].to_numpy(float),
            "co_visits": df["co_vis"].to_numpy(np.int64),
            "expected_visits": df["exp_vis"].to_numpy(float),
            "possible_visits": df["pos_vis"].to_numpy(float),
            "bar_visits": df["bar_vis"].to_numpy(float) if "bar_vis" in df else np.full(len(df), np.nan),
        }
    )


@projection("provider_activity")
def provider_activity(store: Store) -> pd.DataFrame:
    """Per provider and mode (``inpatient`` / ``ambulatory``): first and last day, open days, open
    weekdays (weekdays with settlements on ≥ 2 dates), people settled there and *regulars*
    (people settled there on ≥ 2 distinct days: those a ring's members can be drawn from)."""
    cl = store.table("claims", ["start_time"])
    coded = store.table_codes("claims", ["patient_id", "claim_type"])
    prov, provs = provider_codes(store, sort=True)
    prov = prov.astype(np.int64)
    inp = _is_value(coded["claim_type"], "inpatient").astype(np.int64)
    day = cl["start_time"].to_numpy("datetime64[s]").astype("datetime64[D]").astype(np.int64)
    who = np.asarray(coded["patient_id"].codes, dtype=np.int64)
    del cl, coded
    ok = (prov >= 0) & (who >= 0)
    prov, inp, day, who = prov[ok], inp[ok], day[ok], who[ok].astype(np.int64)
    d0 = int(day.min()) if len(day) else 0
    unit = prov * 2 + inp
    uday = _uniq_below(unit * np.int64(1 << 20) + (day - d0), (int(unit.max()) + 1) << 20 if len(unit) else 0,
                       step=1 << 20, width=int(day.max()) - d0 + 1 if len(day) else 0)
    u, dd = uday >> 20, (uday & ((1 << 20) - 1)) + d0
    units, counts, uinv = _runs(u)
    end = np.cumsum(counts)
    start = end - counts
    pv = units // 2
    return pd.DataFrame({
        "provider_type": provs["provider_type"].to_numpy(object)[pv],
        "provider_id": pd.array(provs["provider_id"].to_numpy(object)[pv], dtype="string"),
        "mode": np.where(units % 2 == 1, "inpatient", "ambulatory"),
        "first_day": dd[start],
        "last_day": dd[end - 1],
        "open_days": end - start,
        "open_weekdays": _open_weekdays(uinv, dd, len(units)),
        **_people(unit, who, day - d0, units, d0),
    })


def _people(unit: np.ndarray, who: np.ndarray, day: np.ndarray, units: np.ndarray, d0: int) -> dict[str, np.ndarray]:
    """Per unit of the sorted ``units``: distinct people, people on ≥ 2 distinct days, and the
    central span of its person-days (:func:`central_span`)."""
    if len(unit) == 0:
        z = np.zeros(len(units), np.int64)
        return {"patients": z, "regulars": z, "span_first": z, "span_last": z}
    npat, span = np.int64(int(who.max()) + 1), np.int64(int(day.max()) + 1)
    pd_key = _uniq((unit * span + day) * npat + who)  # one per distinct (unit, day, person), by unit and day
    lo, hi = central_span(np.searchsorted(units, pd_key // npat // span), pd_key // npat % span, len(units))
    key = _uniq((unit * npat + who) * span + day) // span  # one per distinct (unit, person, day)
    up, ndays, _ = _runs(key)  # (unit, person) and their distinct days
    u = up // npat
    at = np.searchsorted(units, u)
    return {"patients": np.bincount(at, minlength=len(units)).astype(np.int64),
            "regulars": np.bincount(at, weights=ndays >= 2, minlength=len(units)).astype(np.int64),
            "span_first": lo + d0, "span_last": hi + d0}


def central_span(unit: np.ndarray, day: np.ndarray, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Per unit (``0..n_units-1``, rows sorted by unit then day, one per person-day): the first
    and last day of its central 95 % of person-days — positions ``floor(0.025·n)`` and
    ``ceil(0.975·n) − 1``. A hub busy for three months whose span a few stray late visits stretch
    to a year keeps its three months.

    >>> central_span(np.zeros(41, np.int64), np.r_[np.arange(40), 300], 1)
    (array([1]), array([39]))
    """
    n = np.bincount(unit, minlength=n_units)
    start = np.r_[0, np.cumsum(n)[:-1]]
    lo = start + np.floor(0.025 * n).astype(np.int64)
    hi = start + np.ceil(0.975 * n).astype(np.int64) - 1
    ok = n > 0
    first, last = np.zeros(n_units, np.int64), np.zeros(n_units, np.int64)
    first[ok], last[ok] = day[lo[ok]], day[np.maximum(hi[ok], lo[ok])]
    return first, last


def _open_weekdays(unit: np.ndarray, day: np.ndarray, n_units: int) -> np.ndarray:
    """Per unit: the weekdays it settled on at least two distinct dates of (``unit``, ``day``:
    distinct unit-days, days as day numbers).

    >>> _open_weekdays(np.array([0, 0, 0, 0, 1]), np.array([0, 7, 1, 3, 5]), 2).tolist()
    [1, 0]
    """
    wd = (np.asarray(day, np.int64) + 3) % 7  # day 0 (1970-01-01) was a Thursday: Monday = 0
    per = np.bincount(np.asarray(unit, np.int64) * 7 + wd, minlength=n_units * 7).reshape(n_units, 7)
    return (per >= 2).sum(axis=1).astype(np.int64)


def schedule_days(first_day: np.ndarray, last_day: np.ndarray, open_days: np.ndarray,
                  open_weekdays: np.ndarray) -> np.ndarray:
    """Days a unit was open to anyone: the days of its active span on its open weekdays (at least
    the days it was seen settling).

    The days seen settling understate a quiet unit's schedule — and a ring that makes up most of
    a small clinic's business makes the very days it is measured against (20 days seen, 8 of
    them the ring's, in a span of 140): the weekly schedule over the active span does not move
    with the ring, and still absorbs clinics open a few days a week and therapy shifts.

    >>> schedule_days(np.array([0, 0]), np.array([139, 139]), np.array([20, 60]), np.array([7, 3])).tolist()
    [140.0, 60.0]
    """
    span = np.asarray(last_day, float) - np.asarray(first_day, float) + 1
    return np.maximum(np.asarray(open_days, float), np.floor(span * np.asarray(open_weekdays, float) / 7))


def _surprise(obs: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """-log10 P(X >= obs) for X ~ Poisson(expected), finite where scipy's tail underflows.

    >>> bool(np.isfinite(_surprise(np.array([467.0]), np.array([33.7])))[0])
    True
    """
    from ._ringnull import log10_poisson_tail

    return -log10_poisson_tail(np.asarray(obs, float), np.maximum(np.asarray(expected, float), 1e-9))


def _binom_surprise(obs: np.ndarray, possible: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """-log10 P(X >= obs) for X ~ Binomial(possible, expected / possible): a pair cannot meet on
    more days than the rarer of the two comes (``possible``), which the Poisson tail ignores —
    two people who each came three times to a quiet clinic and met all three times are far
    less likely by chance than Poisson(expected) says.

    >>> _binom_surprise(np.array([3.0]), np.array([3.0]), np.array([0.2])).round(2).tolist()
    [3.53]
    """
    from scipy.stats import binom

    obs = np.asarray(obs, float)
    n = np.maximum(np.rint(np.asarray(possible, float)), obs)
    q = np.clip(np.asarray(expected, float) / np.maximum(n, 1.0), 1e-12, 1.0)
    with np.errstate(divide="ignore"):
        lp = binom.logsf(obs - 1, n, q)
        # where the tail underflows, its first term (P(X = obs) ≤ the tail) is finite
        lp = np.where(np.isfinite(lp), lp, binom.logpmf(obs, n, q))
    return np.where(obs <= 0, 0.0, -lp / np.log(10))


def _edges(pairs: pd.DataFrame, p: dict[str, Any]) -> pd.DataFrame:
    """Pairs that pass count, lift and synchrony in either mode, with their combined weight."""
    cols = {"a": "object", "b": "object", "co": "float64", "obs": "float64", "exp": "float64", "lift": "float64"}
    if pairs.empty:
        return pd.DataFrame({k: pd.Series([], dtype=v) for k, v in cols.items()})
    ok, co, obs, exp, lift = [], [], [], [], []
    for name, mc, w, on, ms in (
        ("admissions", p["min_pair_visits"], 1.0, True, p["min_surprise"]),
        ("visits", p["min_pair_visits_ambulatory"], p["ambulatory_weight"], p["ambulatory"], p["min_surprise_ambulatory"]),
    ):
        c = pairs[f"co_{name}"].to_numpy(float)
        x = pairs[f"expected_{name}"].to_numpy(float)
        l_ = c / np.maximum(x, 1e-9)
        n = np.maximum(pairs[f"possible_{name}"].to_numpy(float), c)
        sync = c / np.maximum(n, 1.0)
        surprise = _binom_surprise(c, n, x)
        enough = c >= mc
        if name == "visits" and "bar_visits" in pairs:
            # a thin pair (two joint days where so few can pass) needs its units' own bar
            bar = pairs["bar_visits"].to_numpy(float)
            thin = ~np.isnan(bar) & (c >= 2) & ~enough
            enough, ms = enough | thin, np.where(thin, bar, ms)
        k = on & enough & (l_ >= p["min_lift"]) & (sync >= p["min_synchrony"]) & (surprise >= ms)
        ok.append(k)
        co.append(np.where(k, c * w, 0.0))
        obs.append(np.where(k, c, 0.0))
        exp.append(np.where(k, x, 0.0))
        lift.append(np.where(k, l_, 0.0))
    keep = ok[0] | ok[1]
    return pd.DataFrame({
        "a": pairs["patient_a"].astype(str).to_numpy(object)[keep],
        "b": pairs["patient_b"].astype(str).to_numpy(object)[keep],
        "co": (co[0] + co[1])[keep],
        "obs": (obs[0] + obs[1])[keep],
        "exp": (exp[0] + exp[1])[keep],
        "lift": np.maximum(lift[0], lift[1])[keep],
    })


def _schedule(act: pd.DataFrame) -> np.ndarray:
    """:func:`schedule_days` of ``provider_activity`` rows (over their central span)."""
    return schedule_days(act["span_first"].to_numpy(float), act["span_last"].to_numpy(float),
                         act["open_days"].to_numpy(float), act["open_weekdays"].to_numpy(float))
