"""The declarative logic shapes of the rule pack, evaluated vectorised over the item frame.

A shape is ``fn(sub, rule, ctx) -> hits``: ``sub`` is the item frame restricted to the rule's
settings, levels and insurance types (its index is the row in the whole frame), ``ctx`` gives
the knowledge base aligned to the rows, and ``hits`` is a DataFrame with ``row`` (frame row of
a violating item line) and ``deduct`` (违规金额 of that line, yuan, at most its amount).

Catalogue shapes read limits from the knowledge base (price_ceiling, quantity_limit,
days_supply_limit, patient_limit, indication_limit, not_payable, setting_limit,
code_mismatch, pair, count_window, stay_quantity); data shapes (``graphkit.rules.shapes_data``)
need no catalogue.

Examples
--------
>>> sorted(SHAPE_NEEDS)[:3]
['code_mismatch', 'count_window', 'data_repeat']
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..projections import is_sorted

from .schema import SETTINGS, RuleFileError

__all__ = ["SHAPE_COLUMNS", "SHAPES", "SHAPE_NEEDS", "Ctx", "check_rule", "hits_frame", "shape_needs"]

_SETTING_OF = {v: k for k, v in SETTINGS.items() if v}


@dataclass
class Ctx:
    """What a shape sees besides its rows: the whole frame and the KB aligned to its rows."""

    df: pd.DataFrame          # the item frame's resident columns on every line (item_code, amount, …)
    kb: Any                   # KnowledgeBase
    kbi: np.ndarray           # KB row of each frame row (-1: code not in the catalogue)
    frame: Any = None         # the ItemFrame: any other column via ``frame.column(name)`` / ``frame.take``

    def _kbrows(self, rows: pd.Index) -> np.ndarray:
        """KB row of each of frame ``rows`` (a run of rows: a view, no index array built)."""
        if isinstance(rows, pd.RangeIndex) and rows.step == 1:
            return self.kbi[rows.start:rows.stop]
        return self.kbi[np.asarray(rows)]

    def kbcol(self, name: str, rows: pd.Index) -> np.ndarray:
        """KB column ``name`` for frame ``rows`` (NaN / None where the code is not catalogued)."""
        col = self.kb.items[name].to_numpy()
        # one gather: KB row -1 (not catalogued) takes the appended last value
        return np.append(col, np.nan if col.dtype.kind == "f" else None)[self._kbrows(rows)]

    def kbmap(self, values: np.ndarray, rows: pd.Index) -> np.ndarray:
        """``values`` (one per KB row, plus a last one for codes not in the catalogue) for frame
        ``rows``: a per-code result computed once per catalogue entry instead of once per line."""
        return np.asarray(values)[self._kbrows(rows)]  # KB row -1: the last value

    def kbvalues(self, name: str) -> list:
        """KB column ``name`` as Python values, ``None`` appended for codes not in the catalogue
        (what :meth:`kbcol` gives per row)."""
        col = self.kb.items[name].to_numpy()
        if col.dtype.kind == "f":
            return [*col.tolist(), np.nan]
        return [*col.astype(object).tolist(), None]


def hits_frame(rows: Any, deduct: Any) -> pd.DataFrame:
    """A hits DataFrame (``row``, ``deduct``) from aligned arrays."""
    return pd.DataFrame({"row": np.asarray(rows, dtype=np.int64), "deduct": np.asarray(deduct, dtype="float64")})


def _empty() -> pd.DataFrame:
    return hits_frame([], [])


def _unit(sub: pd.DataFrame) -> np.ndarray:
    if "unit_price" in sub.columns and sub["unit_price"].notna().any():
        u = sub["unit_price"].to_numpy("float64")
        if "quantity" in sub.columns:
            q = sub["quantity"].to_numpy("float64")
            u = np.where(np.isnan(u) & (q > 0), sub["amount"].to_numpy() / np.where(q > 0, q, 1), u)
        return u
    q = sub["quantity"].to_numpy("float64")
    return np.where(q > 0, sub["amount"].to_numpy() / np.where(q > 0, q, 1), np.nan)


def _qty(sub: pd.DataFrame) -> np.ndarray:
    return sub["quantity"].fillna(0).to_numpy("float64")


def _cats(sub: pd.DataFrame, rule, ctx: Ctx, also: np.ndarray | None = None) -> pd.DataFrame:
    """Rows of the categories in ``params.categories`` (data category, else the KB's) and, when
    given, of the mask ``also`` — one copy of the rows for both."""
    ok = _cats_mask(sub, rule, ctx)
    if also is not None:
        ok = also if ok is None else ok & also
    return sub if ok is None else sub[ok]


def _cats_mask(sub: pd.DataFrame, rule, ctx: Ctx) -> np.ndarray | None:
    """Per row of ``sub``, whether it is of a category in ``params.categories`` (None: no such
    parameter, every row)."""
    cats = rule.params.get("categories")
    if not cats:
        return None
    want = {str(c) for c in cats}
    # the KB's category where the data has none (str(None) for an uncatalogued code, as before)
    ok = ctx.kbmap(np.array([str(v) in want for v in ctx.kbvalues("category")], dtype=bool), sub.index)
    if "category" in sub.columns:
        c = sub["category"]
        if isinstance(c.dtype, pd.CategoricalDtype):
            code = np.asarray(c.array.codes)
            inc = np.array([str(v) in want for v in c.cat.categories], dtype=bool)
            ok = np.where(code >= 0, inc[np.maximum(code, 0)], ok)
        else:
            v = c.astype("object").to_numpy()
            ok = np.where(pd.isna(v), ok, np.isin(v.astype(str), list(cats)))
    return ok


def codes_of(s: pd.Series) -> np.ndarray:
    """Integer codes of a column's values (-1 for null), in the values' sort order: the item
    frame's categoricals (sorted categories) give their own codes — a read-only view, no copy of
    26M lines (arithmetic on them must widen first: :func:`pair_key`) — other columns are
    factorized (int64).

    >>> c = codes_of(pd.Series(pd.Categorical(["b", None, "a"], categories=["a", "b"])))
    >>> c.tolist(), c.flags.writeable
    ([1, -1, 0], False)
    """
    if isinstance(s.dtype, pd.CategoricalDtype) and s.cat.ordered is False and is_sorted(s.cat.categories):
        v = np.asarray(s.array.codes).view()
        v.flags.writeable = False
        return v
    return pd.factorize(s, sort=True)[0].astype(np.int64)


def pair_key(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One int64 per (a, b) pair of non-negative-or-(-1) codes.

    >>> pair_key(np.array([0, 1], dtype=np.int32), np.array([-1, 2], dtype=np.int32)).tolist()
    [0, 7]
    """
    return a.astype(np.int64) * (int(b.max(initial=-1)) + 2) + (b + 1)


def _int_codes(s: pd.Series) -> np.ndarray:
    """Codes for :func:`group_ids`: a column of non-negative integers (claim rows, day numbers) is
    its own code — no sorted factorize of 16M values — anything else :func:`codes_of`."""
    if s.dtype.kind in "iu" and len(s):
        v = s.to_numpy()
        if int(v.min()) >= 0:
            return v
    return codes_of(s)


def combined_key(sub: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """One int64 per row, equal exactly for rows equal in every column of ``keys`` (nulls their
    own value): the keys' integer codes combined, numbered by a hash only where their ranges
    would overflow 62 bits."""
    gid = np.zeros(len(sub), dtype=np.int64)
    span = 1
    for k in keys:
        v = _int_codes(sub[k])
        width = int(v.max(initial=-1)) + 2
        if span * width >= 2**62:  # the combination would overflow: number the groups so far
            gid = pd.factorize(gid)[0].astype(np.int64, copy=False)
            span = int(gid.max(initial=-1)) + 1
        gid *= width  # in place: no line-sized temporaries
        gid += v if v.dtype.kind == "i" else v.astype(np.int64)
        gid += 1
        span *= width
        del v
    return gid


def group_ids(sub: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Dense int64 group id per row of the combination of ``keys`` (nulls form their own
    value, like ``groupby(dropna=False)``), built from integer codes: no tuples, no strings.
    The keys' codes are combined into one int64 (:func:`combined_key`) and hashed once.

    >>> d = pd.DataFrame({"a": ["x", "y", "x", None], "b": [1, 1, 1, 2]})
    >>> group_ids(d, ["a", "b"]).tolist()
    [0, 1, 0, 2]
    """
    gid = combined_key(sub, keys)
    if gid.size > 1 and bool((gid[1:] >= gid[:-1]).all()):
        # already in key order (a claim's lines, its codes sorted): the groups are runs — what
        # factorize numbers them, without hashing millions of keys
        start = np.empty(gid.size, dtype=bool)
        start[0] = True
        np.not_equal(gid[1:], gid[:-1], out=start[1:])
        return np.cumsum(start, dtype=np.int64) - 1
    return pd.factorize(gid)[0].astype(np.int64, copy=False)


def repeated(key: np.ndarray) -> np.ndarray:
    """Per row, whether another row holds the same ``key``: one sorted copy of the keys, then
    each row looked up among the (few) repeated values — no hash table of every row.

    >>> repeated(np.array([5, 3, 5, 9])).tolist()
    [True, False, True, False]
    """
    s = np.sort(key)
    twice = np.unique(s[1:][s[1:] == s[:-1]])
    del s
    if not twice.size:
        return np.zeros(key.size, dtype=bool)
    pos = np.searchsorted(twice, key)
    np.minimum(pos, twice.size - 1, out=pos)
    return twice[pos] == key


def repeated_ids(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose ``key`` another row holds too (:func:`repeated`) and a dense id per such
    row (``0 … k−1``, numbered in no particular order): only those keys are hashed.

    >>> rows, ids = repeated_ids(np.array([7, 3, 7, 5, 3]))
    >>> rows.tolist(), ids.tolist()
    ([0, 1, 2, 4], [0, 1, 0, 1])
    """
    rows = np.flatnonzero(repeated(key))
    return rows, pd.factorize(key[rows])[0].astype(np.int64, copy=False)


def lexsort_packed(keys: list[np.ndarray]) -> np.ndarray:
    """``np.lexsort(keys)`` (the last key primary, stable) by one sort of the primary keys packed
    into one int64 — each key numbered in order (integers from their minimum, others and sparse
    integers by rank) and combined while the product of their spans fits 62 bits — and the
    remaining keys sorted only among the rows whose packed keys tie (6 keys of 10M rows: 11.2 →
    3.0 s; ``supply_overlap``'s peak unchanged).

    >>> a, b = np.array([2, 1, 2, 1]), np.array([0.5, 9.0, -1.0, 3.0])
    >>> lexsort_packed([b, a]).tolist() == np.lexsort((b, a)).tolist()
    True
    """
    if not keys or not keys[0].size:
        return np.lexsort(keys) if keys else np.zeros(0, np.int64)
    rest = list(keys)
    word, span = _ranks(rest.pop())  # the primary key
    while rest:  # pack the next keys below it while they fit
        k = rest[-1]
        dense = _dense(k)
        codes, n = (None, dense[1]) if dense else _by_rank(k)
        if span * n >= 2**62:
            break
        rest.pop()
        word *= n
        word += k if codes is None else codes  # a dense integer key adds in place, no copy
        if dense and dense[0]:
            word -= dense[0]
        span *= n
        del codes, k
    order = np.argsort(word, kind="stable")
    if not rest:
        return order
    word.sort()  # in place (no second array): the ties are runs
    same = word[1:] == word[:-1]
    del word
    tied = np.zeros(order.size, dtype=bool)
    tied[1:] = same
    tied[:-1] |= same
    at = np.flatnonzero(tied)  # positions of sorted rows in runs of equal packed keys
    del tied
    if at.size:
        run = np.cumsum(~np.r_[False, same][at])  # the run of each (runs are contiguous)
        rows = order[at]
        order[at] = rows[lexsort_packed([k[rows] for k in rest] + [run])]
    return order


def _dense(k: np.ndarray) -> tuple[int, int] | None:
    """(minimum, span) of an integer or boolean key dense enough to be numbered by its values
    (span below 4 × rows); None for other keys."""
    if k.dtype.kind not in "iub":
        return None
    lo, hi = int(k.min()), int(k.max())
    return (lo, hi - lo + 1) if hi - lo < 4 * k.size else None


def _ranks(k: np.ndarray) -> tuple[np.ndarray, int]:
    """A new int64 array numbering ``k``'s values in order (0 …) and how many numbers it spans."""
    dense = _dense(k)
    if dense:  # the values themselves, from their minimum
        c = k.astype(np.int64)
        c -= dense[0]
        return c, dense[1]
    return _by_rank(k)


def _by_rank(k: np.ndarray) -> tuple[np.ndarray, int]:
    """:func:`_ranks` by the rank of each value among the distinct ones (one hash, a sort of the
    distinct values)."""
    codes, uniq = pd.factorize(k, sort=True)
    codes = codes.astype(np.int64)
    codes[codes < 0] = len(uniq)  # NaN / NaT last, as np.lexsort places them
    return codes, len(uniq) + 1


def _prefix_match(codes: pd.Series, diags: pd.Series, lists: np.ndarray) -> np.ndarray:
    """Whether each diagnosis starts with one of its row's prefixes (``lists``: tuples).
    Computed on unique (code, diagnosis) pairs, then mapped back."""
    _, first, inv = np.unique(pair_key(codes_of(codes), codes_of(diags)), return_index=True, return_inverse=True)
    dv = diags.to_numpy(object)[first]
    ok = np.array([any(("" if pd.isna(d) else str(d)).upper().startswith(p.upper()) for p in (lists[i] or ()))
                   for d, i in zip(dv, first)], dtype=bool)  # loop over distinct (code, diagnosis) pairs only
    return ok[inv.reshape(-1)]


# ---------------------------------------------------------------------------------------------
# catalogue shapes
# ---------------------------------------------------------------------------------------------
def price_ceiling(sub, rule, ctx):
    """Unit price above the catalogue ceiling for the institution's level (pharmacy: its own,
    else ``all``). 违规金额 = (price − ceiling) × quantity."""
    lvl = sub["level"].to_numpy()
    ceil = np.full(len(sub), np.nan)
    for n in (1, 2, 3):
        m = lvl == n
        ceil[m] = ctx.kbcol(f"ceil_l{n}", sub.index[m])
    del lvl, m
    ph = (sub["provider_type"] == "pharmacy").to_numpy()
    ceil[ph] = ctx.kbcol("ceil_pharmacy", sub.index[ph])
    del ph
    none = np.flatnonzero(np.isnan(ceil))
    ceil[none] = np.asarray(ctx.kbcol("ceil_all", sub.index[none]), dtype="float64")
    del none
    unit = _unit(sub)
    tol = float(rule.params.get("tolerance", 0.01))
    at = np.flatnonzero(unit > ceil + tol)  # the amounts are figured on the hits only
    unit, ceil = unit[at], ceil[at]
    qty = sub["quantity"].fillna(0).to_numpy("float64")[at] if "quantity" in sub.columns else np.ones(at.size)
    qty = np.where(qty > 0, qty, 1.0)
    d = np.minimum((unit - ceil) * qty, sub["amount"].to_numpy()[at])
    return hits_frame(sub.index[at], d)


def key_totals(key: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row, the sum of ``values`` over the rows sharing its ``key`` (a new float64 array). Where
    most keys are one row's, only the rows of repeated keys (:func:`repeated`) are numbered and
    summed by ``np.bincount`` — no hash of every row.

    >>> key_totals(np.array([4, 9, 4, 2]), np.array([1.0, 2.0, 3.0, 5.0])).tolist()
    [4.0, 2.0, 4.0, 5.0]
    """
    tot = np.array(values, dtype="float64")
    rows, gid = repeated_ids(key)
    if rows.size:
        tot[rows] = np.bincount(gid, weights=tot[rows])[gid]
    return tot


def _excess_by_group(sub: pd.DataFrame, keys: list[str], qty: np.ndarray, limit: np.ndarray,
                     at: np.ndarray | None = None) -> pd.DataFrame:
    """Lines of ``sub`` (``at``: only these positions; ``qty`` and ``limit`` are per position)
    whose group of ``keys`` holds more than ``limit`` units; 违规金额 = each line's excess share.
    Most groups are one line (its total is its quantity): only the lines of repeated keys are
    numbered (:func:`repeated`) and summed by ``np.bincount`` — no hash of every line, no copy of
    ``sub``."""
    tot = key_totals(combined_key(sub[keys] if at is None else sub[keys].iloc[at], keys), qty)
    hit = (tot > limit) & ~np.isnan(limit)
    frac = np.where(tot > 0, (tot - limit) / np.where(tot > 0, tot, 1), 0)
    amount = sub["amount"].to_numpy()
    d = (amount if at is None else amount[at]) * np.clip(frac, 0, 1)
    return hits_frame(sub.index[hit] if at is None else sub.index[at[hit]], d[hit])


def quantity_limit(sub, rule, ctx):
    """Units per claim (``per = "visit"``) or per person, code and day (``per = "day"``) above
    the catalogue's ``max_qty_visit`` / ``max_qty_day``; 违规金额 = the excess share."""
    per = rule.params.get("per", "visit")
    limit = ctx.kbcol("max_qty_visit" if per == "visit" else "max_qty_day", sub.index)
    keep = ~np.isnan(limit)
    cat = _cats_mask(sub, rule, ctx)
    if cat is not None:
        keep &= cat
    at = np.flatnonzero(keep)
    del keep, cat
    limit = limit[at]  # the lines' own columns only at the judged lines: no copy of every line
    qty = sub["quantity"].to_numpy("float64", na_value=np.nan)[at]
    qty[np.isnan(qty)] = 0.0  # as :func:`_qty`: a missing quantity counts 0
    keys = ["ci", "item_code"] if per == "visit" else ["patient_id", "item_code", "iday"]
    return _excess_by_group(sub, keys, qty, limit, at)


def _chronic(sub, ctx) -> np.ndarray:
    lists = ctx.kbcol("chronic_diagnoses", sub.index)
    return _prefix_match(sub["item_code"], sub["diagnosis_code"], lists)


def days_supply_limit(sub, rule, ctx):
    """Days supply above ``max_days_supply`` (registered chronic diagnosis: ``chronic_days_supply``,
    长处方). 违规金额 = amount × excess days / days supply."""
    ds = sub["days_supply"].to_numpy("float64")
    lim = ctx.kbcol("max_days_supply", sub.index)
    chronic_lim = ctx.kbcol("chronic_days_supply", sub.index)
    use_chronic = ~np.isnan(chronic_lim)
    if use_chronic.any():
        use_chronic[use_chronic] = _chronic(sub[use_chronic], ctx)
    lim = np.where(use_chronic, chronic_lim, lim)
    hit = (ds > lim) & ~np.isnan(lim)
    d = sub["amount"].to_numpy() * np.where(ds > 0, (ds - lim) / np.where(ds > 0, ds, 1), 0)
    return hits_frame(sub.index[hit], d[hit])


def patient_limit(sub, rule, ctx):
    """Sex (``attribute = "sex"``) or age (``"age"``, inclusive bounds) outside the item's limit;
    a person whose sex or age is unknown is not judged, nor one whose birth date (to the month
    only) leaves it open. 违规金额 = the line's amount."""
    if rule.params.get("attribute") == "sex":
        # compared as codes of the data's sex values (-1: no limit, -2: a value no person has)
        sex = sub["sex"].array if isinstance(sub["sex"].dtype, pd.CategoricalDtype) else pd.Categorical(sub["sex"])
        cats = sex.categories
        want = ctx.kbmap(np.array([-1 if pd.isna(v) else (cats.get_loc(v) if v in cats else -2)
                                   for v in ctx.kbvalues("sex")], dtype=np.int64), sub.index)
        code = np.asarray(sex.codes)
        hit = (want != -1) & (code >= 0) & (want != code)
    else:
        # birth dates to the month: too young only if even the oldest the person can be is, too
        # old only if even the youngest is (``age_lo``; the same as ``age`` with exact dates)
        age = sub["age"].to_numpy("float64")
        young = sub["age_lo"].to_numpy("float64")
        lo, hi = ctx.kbcol("age_min", sub.index), ctx.kbcol("age_max", sub.index)
        hit = ~np.isnan(age) & ((age < lo) | (young > hi))
    return hits_frame(sub.index[hit], sub["amount"].to_numpy()[hit])


def indication_limit(sub, rule, ctx):
    """Diagnosis not among the item's indications (ICD-10 prefixes); claims without a diagnosis
    are not judged. 违规金额 = the line's amount."""
    lists = ctx.kbcol("diagnoses", sub.index)
    has = ctx.kbmap(np.array([bool(x) for x in ctx.kbvalues("diagnoses")], dtype=bool), sub.index) \
        & sub["diagnosis_code"].notna().to_numpy()
    s = sub[has]
    ok = _prefix_match(s["item_code"], s["diagnosis_code"], lists[has])
    return hits_frame(s.index[~ok], s["amount"].to_numpy()[~ok])


def not_payable(sub, rule, ctx):
    """Items outside the payment scope: catalogue ``payable = false`` or a billed category in
    ``params.categories`` (e.g. ``non_medical``). 违规金额 = the line's amount."""
    hit = ctx.kbmap(np.array([p is False or p is np.False_ for p in ctx.kbvalues("payable")], dtype=bool), sub.index)
    cats = rule.params.get("categories")
    if cats and "category" in sub.columns:
        hit |= sub["category"].isin(list(cats)).fillna(False).to_numpy(bool)
    return hits_frame(sub.index[hit], sub["amount"].to_numpy()[hit])


def setting_limit(sub, rule, ctx):
    """Items billed in a setting the catalogue does not pay them in (e.g. a bed fee on an
    outpatient claim). 违规金额 = the line's amount."""
    allowed = ctx.kbvalues("settings")
    ct = sub["claim_type"]
    # one verdict per (catalogue entry, claim type) pair
    types = pd.Series(ct.cat.categories if isinstance(ct.dtype, pd.CategoricalDtype) else pd.unique(ct.dropna()))
    here = [*types.map(_SETTING_OF).to_numpy(object), np.nan]  # last: a null claim type
    table = np.array([[bool(a) and h not in a for h in here] for a in allowed], dtype=bool)
    tcode = pd.Index(types).get_indexer(ct.to_numpy(object)) if not isinstance(ct.dtype, pd.CategoricalDtype) \
        else np.asarray(ct.array.codes)
    tcode = np.where(tcode >= 0, tcode, len(here) - 1)
    hit = table[ctx.kbmap(np.arange(len(allowed)), sub.index), tcode]
    return hits_frame(sub.index[hit], sub["amount"].to_numpy()[hit])


def _norm(s: pd.Series) -> pd.Series:
    return s.astype("string").map(lambda x: unicodedata.normalize("NFKC", x).replace(" ", "").strip()
                                  if isinstance(x, str) else x)


def code_mismatch(sub, rule, ctx):
    """Billed name (``field = "name"``) or category (``"category"``) differs from the catalogue's
    for the code (串换: a cheaper or non-payable item billed under a payable code)."""
    fld = rule.params.get("field", "name")
    col = "item_name" if fld == "name" else "category"
    got = sub[col]
    # distinct (code, billed value) pairs only
    inv = pd.factorize(pair_key(codes_of(sub["item_code"]), codes_of(got)))[0]  # hashed, not sorted
    first = first_rows(inv)
    g = got.iloc[first]
    w = pd.Series(ctx.kbcol("name" if fld == "name" else "category", sub.index[first]), index=g.index, dtype="object")
    gn = _norm(g) if fld == "name" else g.astype("string")
    bad = (w.notna() & g.notna() & (gn.astype(object) != w.astype(object))).to_numpy(bool)
    hit = bad[inv]
    return hits_frame(sub.index[hit], sub["amount"].to_numpy()[hit])


def _window_keys(rule) -> list[str]:
    return {"当次": ["ci"], "住院期间": ["ci"], "自然日": ["patient_id", "provider_id", "iday"],
            "自然月": ["patient_id", "provider_id", "month"], "全周期": ["patient_id", "provider_id"]}[rule.window]


def pair(sub, rule, ctx):
    """Two catalogue-related items in one window (当次 = claim, 自然日 = person × provider × day).
    ``relation = "includes"``: a package with an item it contains → the contained lines;
    ``"exclusive_with"``: mutually exclusive items → every such line but the dearest."""
    rel = rule.params.get("relation", "includes")
    pairs = ctx.kb.pairs(rel)
    keys = _window_keys(rule)
    # only the lines of a code some pair names can pair (a few codes among thousands): the windows
    # are numbered, and the codes spelled out, for those lines alone
    sub = sub[sub["item_code"].isin(list({*pairs["main"].astype(str), *pairs["other"].astype(str)})).to_numpy(bool)]
    k = sub.groupby(keys, sort=False, dropna=False).ngroup()
    present = pd.DataFrame({"k": k.to_numpy(), "code": sub["item_code"].astype(str).to_numpy(), "row": sub.index})
    k = pd.Series(k.to_numpy(), index=sub.index)
    mains = present[present["code"].isin(set(pairs["main"].astype(str)))][["k", "code"]].drop_duplicates()
    mains = mains.rename(columns={"code": "main"})
    cand = present.merge(pairs.astype(str).rename(columns={"other": "code"}), on="code")
    cand = cand.merge(mains, on=["k", "main"])
    rows = np.unique(cand["row"].to_numpy())
    if rel == "includes" or rows.size == 0:
        return hits_frame(rows, ctx.df["amount"].to_numpy()[rows])
    # exclusive: the members of each window keep their dearest line
    partners = np.unique(np.concatenate([rows, present.merge(cand[["k", "main"]].drop_duplicates()
                                                             .rename(columns={"main": "code"}), on=["k", "code"])["row"]]))
    m = pd.DataFrame({"k": k.loc[partners].to_numpy(), "row": partners,
                      "amt": ctx.df["amount"].to_numpy()[partners]}).sort_values(["k", "amt", "row"],
                                                                                  ascending=[True, False, True])
    drop = m.duplicated("k", keep="first").to_numpy()
    rows = m["row"].to_numpy()[drop]
    return hits_frame(rows, ctx.df["amount"].to_numpy()[rows])


def count_window(sub, rule, ctx):
    """Units of an item above its allowance in the window: catalogue ``once_per = "day"``
    (person × code × day), ``"stay"`` (per inpatient claim), or ``params.max_count`` for
    ``params.codes`` in the rule's window. 违规金额 = the excess share."""
    once = rule.params.get("once_per")
    if once:
        op = ctx.kbcol("once_per", sub.index)
        sub = sub[op == once]
        keys = ["patient_id", "item_code", "iday"] if once == "day" else ["ci", "item_code"]
        limit = np.ones(len(sub))
    else:
        codes = rule.params.get("codes")
        if codes:
            sub = sub[sub["item_code"].isin(list(codes))]
        keys = [*_window_keys(rule), "item_code"]
        limit = np.full(len(sub), float(rule.params.get("max_count", 1)))
    qty = _qty(sub) if "quantity" in sub.columns else np.ones(len(sub))
    return _excess_by_group(sub, keys, np.maximum(qty, 1.0), limit)


def stay_quantity(sub, rule, ctx):
    """Per-day items of an inpatient stay (``categories``, e.g. bed; ``once_per_day`` items of
    the catalogue; or, with ``learn = true``, the codes the data bills per day of the stay:
    :func:`~graphkit.rules.shapes_data.per_diem_codes` with ``min_stays``, ``min_share``) billed
    for more days than the stay lasted (算入不算出, at least 1) plus ``allowance`` — per code, or
    with ``across_codes = true`` all of them together (two beds on one day). 违规金额 = the
    excess share."""
    p = rule.params
    sub = sub[sub["claim_type"] == "inpatient"]
    if p.get("learn"):
        sub = sub[per_diem_codes(sub, int(p.get("min_stays", 30)), float(p.get("min_share", 0.9)))]
    elif p.get("once_per_day"):
        sub = sub[ctx.kbcol("once_per", sub.index) == "day"]
    else:
        sub = _cats(sub, rule, ctx)
    allowance = float(p.get("allowance", 0))
    limit = sub["los"].to_numpy("float64") + allowance
    return _excess_by_group(sub, ["ci"] if p.get("across_codes") else ["ci", "item_code"], _qty(sub), limit)


def item_time_outside(sub, rule, ctx):
    """Item charged on a day outside the visit (outpatient: its day) or the stay (admission day
    to discharge day), ± ``grace_days``. 违规金额 = the line's amount."""
    s = sub[sub["item_time"].notna()]
    g = int(rule.params.get("grace_days", 0))
    lo = s["sday"].to_numpy() - g
    end = np.where(s["eday"].to_numpy() >= 0, s["eday"].to_numpy(), s["sday"].to_numpy())
    hi = end + g
    iday = s["iday"].to_numpy()
    hit = (iday < lo) | (iday > hi)
    return hits_frame(s.index[hit], s["amount"].to_numpy()[hit])


def code_rule(sub, rule, ctx):
    """The escape hatch: ``function = "module:name"``, called as ``fn(sub, rule, ctx)``."""
    return _resolve(rule.function)(sub, rule, ctx)


def _resolve(spec: str) -> Callable:
    mod, _, name = spec.partition(":")
    return getattr(import_module(mod), name)


from .shapes_data import (claim_count, data_repeat, first_rows, peer_price, peer_quantity, peer_value,  # noqa: E402
                          per_diem_codes, rare_attribute, split_claims, supply_overlap, unit_repeat)

SHAPES: dict[str, Callable[..., pd.DataFrame]] = {
    "price_ceiling": price_ceiling, "peer_price": peer_price, "quantity_limit": quantity_limit,
    "days_supply_limit": days_supply_limit, "patient_limit": patient_limit, "indication_limit": indication_limit,
    "not_payable": not_payable, "setting_limit": setting_limit, "code_mismatch": code_mismatch, "pair": pair,
    "count_window": count_window, "data_repeat": data_repeat, "supply_overlap": supply_overlap,
    "peer_quantity": peer_quantity, "stay_quantity": stay_quantity, "item_time_outside": item_time_outside,
    "split_claims": split_claims, "claim_count": claim_count, "code": code_rule, "unit_repeat": unit_repeat,
    "peer_value": peer_value, "rare_attribute": rare_attribute,
}

#: item-frame columns each declarative shape reads, whatever its parameters (the engine hands a
#: shape only these, so its filters copy a few columns, not the whole frame; ``code`` rules get all)
SHAPE_COLUMNS: dict[str, tuple[str, ...]] = {
    "price_ceiling": ("amount", "level", "provider_type", "quantity", "unit_price"),
    "peer_price": ("amount", "item_code", "level", "provider_id", "quantity", "unit_price"),
    "quantity_limit": ("amount", "category", "ci", "iday", "item_code", "patient_id", "quantity"),
    "days_supply_limit": ("amount", "days_supply", "diagnosis_code", "item_code"),
    "patient_limit": ("age", "age_lo", "amount", "sex"),
    "indication_limit": ("amount", "diagnosis_code", "item_code"),
    "not_payable": ("amount", "category"),
    "setting_limit": ("amount", "claim_type"),
    "code_mismatch": ("amount", "category", "item_code", "item_name"),
    "pair": ("amount", "ci", "iday", "item_code", "month", "patient_id", "provider_id"),
    "count_window": ("amount", "ci", "iday", "item_code", "month", "patient_id", "provider_id", "quantity"),
    "data_repeat": ("amount", "ci", "iday", "item_code", "patient_id", "start"),
    "supply_overlap": ("amount", "category", "ci", "days_supply", "item_code", "patient_id", "quantity", "sday"),
    "peer_quantity": ("amount", "category", "item_code", "month", "patient_id", "provider_id", "quantity"),
    "stay_quantity": ("amount", "category", "ci", "claim_type", "item_code", "los", "quantity"),
    "item_time_outside": ("amount", "eday", "iday", "item_time", "sday"),
    "split_claims": ("amount", "category", "ci", "item_code", "patient_id", "provider_id", "sday", "start"),
    "claim_count": ("amount", "ci", "claim_type", "patient_id", "provider_id", "sday", "start"),
    "unit_repeat": ("amount", "ci", "claim_type", "iday", "item_code", "patient_id", "quantity"),
    "peer_value": ("amount", "category", "ci", "days_supply", "item_code", "quantity"),
    "rare_attribute": ("age", "age_lo", "amount", "category", "claim_type", "diagnosis_code", "item_code", "item_name",
                       "provider_id", "sex"),
}

#: columns of claim_items each shape needs (beyond claim_id, item_code, amount)
SHAPE_NEEDS: dict[str, tuple[str, ...]] = {
    "price_ceiling": ("unit_price",), "peer_price": ("unit_price",), "quantity_limit": ("quantity",),
    "days_supply_limit": ("days_supply",), "code_mismatch": (), "count_window": (), "data_repeat": (),
    "supply_overlap": (), "peer_quantity": ("quantity",), "stay_quantity": ("quantity",),
    "item_time_outside": ("item_time",), "split_claims": (), "unit_repeat": (), "rare_attribute": (),
}


def shape_needs(rule) -> tuple[str, ...]:
    """Columns the rule needs: its own ``needs`` plus its shape's (and its parameters')."""
    n = list(rule.needs) + list(SHAPE_NEEDS.get(rule.shape, ()))
    if rule.shape == "supply_overlap":
        n.append("quantity" if rule.params.get("infer") else "days_supply")
    if rule.shape == "peer_value":
        n += {"days_supply": ["days_supply"], "dose": ["days_supply", "quantity"]}.get(
            str(rule.params.get("value", "visit_quantity")), ["quantity"])
    if rule.shape == "rare_attribute" and rule.params.get("field", "item_name") in ("item_name", "category"):
        n.append(str(rule.params.get("field", "item_name")))
    if rule.shape == "code_mismatch":
        n.append("item_name" if rule.params.get("field", "name") == "name" else "category")
    if rule.params.get("categories") and rule.shape not in ("not_payable",):
        pass  # categories fall back on the catalogue's category
    return tuple(dict.fromkeys(n))


_PARAMS: dict[str, dict[str, type | tuple]] = {
    "price_ceiling": {"tolerance": (int, float)},
    "peer_price": {"fence": (int, float), "min_rel": (int, float), "min_lines": int, "min_providers": int,
                   "min_mode": (int, float), "max_above": (int, float)},
    "quantity_limit": {"per": str, "categories": list},
    "days_supply_limit": {},
    "patient_limit": {"attribute": str},
    "indication_limit": {},
    "not_payable": {"categories": list},
    "setting_limit": {},
    "code_mismatch": {"field": str},
    "pair": {"relation": str},
    "count_window": {"once_per": str, "codes": list, "max_count": (int, float)},
    "data_repeat": {"max_share": (int, float), "min_support": int},
    "supply_overlap": {"grace_days": (int, float), "min_overlap_days": (int, float), "infer": bool,
                       "min_patients": int, "categories": list, "max_gap_spread": (int, float)},
    "peer_quantity": {"fence": (int, float), "min_patients": int, "categories": list, "min_ratio": (int, float),
                      "alpha": (int, float)},
    "stay_quantity": {"categories": list, "once_per_day": bool, "allowance": (int, float), "learn": bool,
                      "min_stays": int, "min_share": (int, float), "across_codes": bool},
    "unit_repeat": {"per": str, "max_share": (int, float), "min_support": int},
    "peer_value": {"value": str, "quantile": (int, float), "min_ratio": (int, float), "min_lines": int,
                   "categories": list},
    "rare_attribute": {"field": str, "min_support": int, "min_dominant": (int, float), "max_share": (int, float),
                       "per_provider": bool, "categories": list, "relative": bool},
    "item_time_outside": {"grace_days": int},
    "split_claims": {"min_claims": int, "categories": list},
    "claim_count": {"min_claims": int, "claim_types": list},
}
_ENUMS = {("quantity_limit", "per"): ("visit", "day"), ("patient_limit", "attribute"): ("sex", "age"),
          ("code_mismatch", "field"): ("name", "category"), ("pair", "relation"): ("includes", "exclusive_with"),
          ("count_window", "once_per"): ("day", "stay"), ("unit_repeat", "per"): ("day", "stay"),
          ("peer_value", "value"): ("days_supply", "dose", "visit_quantity"),
          ("rare_attribute", "field"): ("item_name", "category", "setting", "sex", "age", "diagnosis")}


def check_rule(rule, source: str) -> None:
    """Refuse a rule whose parameters its shape does not know or whose ``function`` cannot be
    imported (:class:`RuleFileError` naming file, rule and field)."""
    where = f"{source}: rule {rule.id!r}"
    if rule.shape == "code":
        try:
            fn = _resolve(rule.function)
        except (ImportError, AttributeError) as exc:
            raise RuleFileError(f"{where} field 'function': cannot import {rule.function!r} ({exc})") from None
        if not callable(fn):
            raise RuleFileError(f"{where} field 'function': {rule.function!r} is not callable")
        return
    known = _PARAMS[rule.shape]
    for k, v in rule.params.items():
        if k not in known:
            raise RuleFileError(f"{where} field 'params.{k}': unknown parameter of shape {rule.shape!r} "
                                f"(known: {', '.join(known) or 'none'})")
        if not isinstance(v, known[k]) or isinstance(v, bool) and known[k] is not bool:
            raise RuleFileError(f"{where} field 'params.{k}': {v!r} has the wrong type")
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            raise RuleFileError(f"{where} field 'params.{k}': {v!r} must be >= 0")
        allowed = _ENUMS.get((rule.shape, k))
        if allowed and v not in allowed:
            raise RuleFileError(f"{where} field 'params.{k}': {v!r} is not one of {list(allowed)}")
    for k in [k for (s, k) in _ENUMS if s == rule.shape and k in ("per", "attribute", "relation")]:
        if k not in rule.params:
            raise RuleFileError(f"{where} field 'params.{k}': required by shape {rule.shape!r}")
