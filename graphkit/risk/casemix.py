"""Case-mix adjustment (病种调整) of the cost, stay, admission, readmission and visit indicators.

A dialysis centre sees its patients 70 times in half a year, an oncology centre's stays cost
three times a general ward's, a rehabilitation hospital keeps people for weeks: because of
their diagnoses, not because they over-bill. Health-services research compares such
providers by **indirect standardisation**: each claim's *expected* value is the city's value
for claims of its diagnosis group (× claim type), and a provider's indicator is its observed
value over its expected one (O/E), put back on the city's scale so it reads like the raw
indicator ("cost per visit at the city's case mix"):

* means of a log value (cost): ``ln(1 + total) − m_g + m``  (``m_g`` the median of its group,
  ``m`` of its claim type: the geometric-mean cost × O/E);
* length of stay: ``los − E_g + E`` (days beyond the median stay of its group, on the city's
  median stay ``E``);
* visits per person (per provider–patient pair, grouped by the pair's first claim): ``v · E / E_g``
  (the city's mean visits per pair of the group and of the claim type: O/E × the city's mean);
* rates (admissions, readmissions): the indirectly standardised rate ``p · O / E`` with
  ``O`` the provider's events and ``E = Σ p_g`` the events its claims would have at the city's
  rate of their groups (``k = n·p·O/E``, at most ``n``).

Diagnosis group: the code's first three characters (ICD-10 category ``J06``, ICD-9 ``401``,
upper case, dots removed); claims without a diagnosis form a group of their own. A group with
fewer than ``min_n`` claims (10: a median of fewer values is unstable, as for peer groups)
takes its claim type's expectation (no adjustment). A provider alone in its group is its own
reference: the indicator then carries no evidence either way, which is the honest answer.

Examples
--------
>>> import numpy as np, pandas as pd
>>> dx_groups(pd.Index(["J06.9", "j069", "401.9", "N18.5", "Z50.1"])).tolist()
['J06', 'J06', '401', 'N18', 'Z50']
>>> g = np.array([0, 0, 0, 1, 1, 1])
>>> group_expectation(np.array([1.0, 1, 1, 5, 5, 5]), g, np.zeros(6, int), min_n=3).tolist()
[1.0, 1.0, 1.0, 5.0, 5.0, 5.0]
>>> group_expectation(np.array([1.0, 1, 1, 5, 5, 5]), g, np.zeros(6, int), min_n=4).tolist()
[3.0, 3.0, 3.0, 3.0, 3.0, 3.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["dx_groups", "claim_groups", "group_expectation", "standardised_rate_events", "MIN_GROUP"]

#: claims a diagnosis group needs for an expectation of its own (else its claim type's)
MIN_GROUP = 10


def dx_groups(codes: pd.Index) -> pd.Index:
    """The diagnosis group (first three characters, upper case, no dots) of each distinct code."""
    s = pd.Series(codes.to_numpy(object)).astype("string").str.upper().str.replace(".", "", regex=False).str.strip()
    return pd.Index(s.str[:3].fillna("?").to_numpy(object))


def claim_groups(dx: np.ndarray, dx_codes: pd.Index) -> np.ndarray:
    """Per claim: a diagnosis-group code ≥ 0 (claims without a diagnosis share the last code)."""
    grp = dx_groups(dx_codes)
    gcode, uniq = pd.factorize(grp)
    lut = np.append(gcode.astype(np.int32), np.int32(len(uniq)))  # dx -1 -> "no diagnosis"
    return lut[np.asarray(dx, np.int64)]


def group_expectation(x: np.ndarray, group: np.ndarray, ctype: np.ndarray, *, min_n: int = MIN_GROUP,
                      how: str = "median") -> np.ndarray:
    """Expected value of each element: the ``how`` (median or mean) of ``x`` over the elements of
    its (group, claim type) cell when that cell has at least ``min_n`` elements, else over its
    claim type. NaN values of ``x`` are ignored (a cell of NaN only has no value).

    The same numbers, bit for bit, as pandas' groupby median / mean, without its MultiIndex: cells
    are coded by integer arithmetic, counts and sums are bincounts (sums of integer values, as
    visits and events, are exact in any order), medians
    are partitions of each cell's values, ``(a + b) / 2`` for an even count as pandas has it.
    Means of other values are left to pandas (its compensated sums).

    >>> group_expectation(np.array([1.0, 2, np.nan, 4, 8, 9]), np.array([0, 0, 0, 1, 1, 1]), np.zeros(6, int),
    ...                   min_n=2).tolist()
    [1.5, 1.5, 1.5, 8.0, 8.0, 8.0]
    >>> group_expectation(np.array([1.0, 2, 4, 8]), np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1]), how="mean",
    ...                   min_n=2).tolist()
    [1.5, 1.5, 2.3333333333333335, 8.0]
    """
    x = np.asarray(x, float)
    out = np.full(x.size, np.nan)
    if x.size == 0:
        return out
    if how != "median" and not _exact_sums(x):
        return _pandas_expectation(x, group, ctype, min_n=min_n, how=how)
    tc, nt = _dense(ctype)
    gc, ng = _dense(group)
    cc, nc = _dense(gc * nt + tc) if ng * nt > 4 * x.size + 1024 else (gc * nt + tc, ng * nt)
    del gc
    valid = ~np.isnan(x)
    by_t, _ = _cell_stats(x, tc, nt, valid, how)
    cell, cnt = _cell_stats(x, cc, nc, valid, how)
    own = np.where(cnt >= min_n, cell, np.nan)
    v = own[cc]
    return np.where(np.isnan(v), by_t[tc], v)


def _exact_sums(x: np.ndarray) -> bool:
    """Whether every sum of the non-NaN ``x`` is exact in float64 (integer values, |Σ| < 2⁵³)."""
    xv = x[~np.isnan(x)]
    return bool(np.all(xv == np.floor(xv))) and float(np.abs(xv).sum()) < 2.0 ** 53


def _pandas_expectation(x: np.ndarray, group: np.ndarray, ctype: np.ndarray, *, min_n: int, how: str) -> np.ndarray:
    """:func:`group_expectation` by pandas' groupby (means of non-integer values: its compensated sums)."""
    df = pd.DataFrame({"x": x, "g": np.asarray(group, np.int64), "t": np.asarray(ctype, np.int64)})
    agg = "median" if how == "median" else "mean"
    by_t = df.groupby("t")["x"].agg(agg)
    cell = df.groupby(["g", "t"])["x"].agg([agg, "count"])
    out = by_t.reindex(df["t"]).to_numpy(float)
    own = cell[cell["count"] >= min_n][agg]
    v = own.reindex(pd.MultiIndex.from_arrays([df["g"], df["t"]])).to_numpy(float)
    return np.where(np.isnan(v), out, v)


def _dense(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes ``0..k-1`` of integer labels (offsets from the least when they are dense, else ranks) and ``k``."""
    a = np.asarray(a, np.int64).reshape(-1)
    lo, hi = int(a.min()), int(a.max())
    if hi - lo <= 4 * a.size + 1024:
        return a - lo, hi - lo + 1
    u, inv = np.unique(a, return_inverse=True)
    return inv.reshape(-1).astype(np.int64), int(u.size)


def _cell_stats(x: np.ndarray, code: np.ndarray, k: int, valid: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Per code ``0..k-1``: the median or mean of the valid ``x`` (NaN where none) and their count."""
    xv, cv = (x, code) if valid.all() else (x[valid], code[valid])
    cnt = np.bincount(cv, minlength=k)
    stat = np.full(k, np.nan)
    has = cnt > 0
    if how != "median":
        s = np.bincount(cv, weights=xv, minlength=k)  # integer sums: exact, as pandas' Kahan sum
        stat[has] = s[has] / cnt[has]
        return stat, cnt
    if k <= 8:  # few cells (claim types): one pass of the values per cell
        for i in np.flatnonzero(has):
            stat[i] = _median(xv[cv == i])
        return stat, cnt
    if k < 1 << 31 and xv.size < 1 << 32:  # stable order by code: one fast sort of code · 2³² + position
        key = (cv.astype(np.uint64) << np.uint64(32)) | np.arange(xv.size, dtype=np.uint64)
        key.sort()
        order = (key & np.uint64(0xFFFFFFFF)).astype(np.intp)
        del key
    else:
        order = np.argsort(cv, kind="stable")
    xs = xv[order]
    del order
    end = np.cumsum(cnt)
    for i in np.flatnonzero(has):
        stat[i] = _median(xs[end[i] - cnt[i]:end[i]])
    return stat, cnt


def _median(a: np.ndarray) -> float:
    """Median of non-empty ``a`` as pandas' groupby has it (``(a + b) / 2`` of the middle two)."""
    k = a.size
    if k % 2:
        return np.partition(a, k // 2)[k // 2]
    p = np.partition(a, (k // 2 - 1, k // 2))
    return (p[k // 2 - 1] + p[k // 2]) / 2


def standardised_rate_events(event: np.ndarray, group: np.ndarray, mask: np.ndarray, who: list[np.ndarray] | np.ndarray,
                             n_entities: int, *, min_n: int = MIN_GROUP) -> np.ndarray:
    """Per entity, the events ``k`` of its indirectly standardised rate: ``n·p·O/E``, at most ``n``.

    ``event``, ``group``, ``mask`` are per claim (``mask``: the claims the rate is over), ``who``
    the entity row of each claim (-1 none), or a list of such arrays (provider, doctor). ``p`` is the city's rate over ``mask``; ``E`` sums the
    rate of each claim's group (groups under ``min_n`` claims take ``p``).

    >>> ev = np.array([1, 0, 0, 0, 1, 1, 1, 1], bool)
    >>> grp = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> who = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> standardised_rate_events(ev, grp, np.ones(8, bool), who, 2, min_n=2).round(3).tolist()
    [2.5, 2.5]
    """
    whos = [np.asarray(w_) for w_ in (who if isinstance(who, list) else [who])]
    m = np.asarray(mask, bool)
    n = np.zeros(n_entities)
    O = np.zeros(n_entities)
    E = np.zeros(n_entities)
    if not m.any():
        return n
    e = np.asarray(event, bool)
    p_all = float(e[m].mean())
    pg = np.full(e.size, np.nan)
    pg[m] = group_expectation(e[m].astype(float), group[m], np.zeros(int(m.sum()), np.int64), min_n=min_n, how="mean")
    for w_ in whos:
        sel = m & (w_ >= 0)
        n += np.bincount(w_[sel], minlength=n_entities)
        O += np.bincount(w_[sel], weights=e[sel].astype(float), minlength=n_entities)
        E += np.bincount(w_[sel], weights=pg[sel], minlength=n_entities)
    k = np.where(E > 0, n * p_all * O / np.maximum(E, 1e-300), np.where(O > 0, n, 0.0))
    return np.minimum(k, n)
