"""Small vectorised helpers where pandas' generic path is slow on string columns.

``isin`` is an Arrow hash-set membership test; ``string_hash`` and ``combine_hashes`` give
exactly the row hashes of :func:`pandas.util.hash_pandas_object` without its per-call
overhead; :class:`KeySet` is an exact set of string keys that grows chunk by chunk (the
loader's primary keys, so a table never has to be held whole to check duplicates and
references).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["unique_ints", "sorted_codes", "isin", "arrow_strings", "string_series", "string_hash", "combine_hashes", "KeySet", "NULL_HASH"]

#: the hash pandas gives a missing value of a string column
NULL_HASH = np.uint64(np.iinfo(np.uint64).max)


def _arrow(values: Any) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    s = pd.Series(values) if not isinstance(values, (pd.Series, pd.Index)) else values
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        return s.array.__arrow_array__()
    if not (pd.api.types.is_string_dtype(s.dtype) or s.dtype == object):
        return pa.array(np.asarray(s))
    try:
        return pa.array(s, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(s.astype("string"), type=pa.string(), from_pandas=True)


def arrow_strings(values: Any) -> pa.Array:
    """``values`` (a string Series, Index, list or Arrow array) as one ``large_string`` Arrow array.

    Zero-copy for pandas' Arrow-backed ``string`` dtype.

    >>> arrow_strings(pd.Series(["a", None], dtype="string")).to_pylist()
    ['a', None]
    """
    arr = _arrow(values)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    return arr


def string_series(arr: pa.Array | pa.ChunkedArray, index: pd.Index | None = None) -> pd.Series:
    """An Arrow string array as a pandas ``string`` Series, without copying.

    >>> string_series(pa.array(["x", None])).tolist()
    ['x', <NA>]
    """
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index, copy=False)


def pandas_type(t: pa.DataType) -> Any:
    """``types_mapper`` for Arrow → pandas: strings as ``string``, integers and booleans as
    nullable dtypes (a chunk with or without nulls gets the same dtype); others by default.

    >>> pandas_type(pa.int32()), pandas_type(pa.float64())
    (Int64Dtype(), None)
    """
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype()
    if pa.types.is_integer(t):
        return pd.Int64Dtype()
    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    return None


def unique_ints(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a numeric array, by one sort.

    Same result as ``np.unique(x)``; numpy ≥ 2.3 answers a plain ``np.unique`` with a hash
    table, which is an order of magnitude slower than sorting on millions of int64 keys.

    >>> unique_ints(np.array([7, 3, 7, 9])).tolist()
    [3, 7, 9]
    """
    s = np.sort(np.asarray(x))
    if s.size == 0:
        return s
    return s[np.r_[True, s[1:] != s[:-1]]]


def sorted_codes(cat: pd.Categorical, dtype: Any = np.int64) -> tuple[np.ndarray, pd.Index]:
    """(codes of ``dtype``, -1 for null; the values sorted): what ``pd.factorize(values,
    sort=True)`` gives, from a categorical whose categories are in any order
    (``Store.table_codes``).

    >>> codes, values = sorted_codes(pd.Categorical.from_codes([0, 1, -1, 0], categories=["b", "a"]))
    >>> codes.tolist(), list(values)
    ([1, 0, -1, 1], ['a', 'b'])
    """
    cats = np.asarray(cat.categories, dtype=object)
    # Arrow sorts strings by their UTF-8 bytes: the order of Python's str comparison, 4x quicker
    order = np.asarray(pc.array_sort_indices(pa.array(cats, type=pa.string())).to_numpy(zero_copy_only=False), dtype=np.int64)
    rank = np.empty(order.size + 1, dtype=dtype)
    rank[order] = np.arange(order.size)
    rank[-1] = -1  # a null's code -1 takes the last
    return rank[np.asarray(cat.codes)], pd.Index(cats[order], dtype=object)


def isin(values: Any, allowed: Any) -> np.ndarray:
    """Boolean mask: which ``values`` are in ``allowed`` (nulls are never in). Hash-set in Arrow.

    Examples
    --------
    >>> isin(pd.Series(["a", None, "c"], dtype="string"), pd.Index(["c", "a"])).tolist()
    [True, False, True]
    """
    if len(values) == 0:
        return np.zeros(0, bool)
    vs = _arrow(pd.Index(allowed).dropna()) if len(allowed) else pa.array([], type=pa.string())
    arr = _arrow(values)
    if arr.type != vs.type:
        try:
            vs = vs.cast(arr.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            arr, vs = arr.cast(pa.string()), vs.cast(pa.string())
    out = pc.is_in(arr, value_set=vs, skip_nulls=True)
    return np.asarray(out.to_numpy(zero_copy_only=False), dtype=bool) & ~np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)


def string_hash(values: Any, *, unique: bool = False) -> np.ndarray:
    """The uint64 hash pandas gives each value of a string column (nulls: ``NULL_HASH``).

    Equal to ``pd.util.hash_pandas_object(series, index=False)`` for a ``string`` series, but
    works on Arrow arrays directly. ``unique=True`` skips the dictionary step (use it when the
    values are known to be distinct, e.g. a primary key).

    >>> s = pd.Series(["a", None, "a", "b"], dtype="string")
    >>> bool((string_hash(s) == pd.util.hash_pandas_object(s, index=False).to_numpy()).all())
    True
    """
    arr = arrow_strings(values)
    n = len(arr)
    if n == 0:
        return np.zeros(0, np.uint64)
    nulls = arr.null_count
    if unique:
        present = arr if not nulls else pc.drop_null(arr)
        hashed = pd.util.hash_array(present.to_numpy(zero_copy_only=False), categorize=False)
        if not nulls:
            return hashed
        out = np.full(n, NULL_HASH, np.uint64)
        out[np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)] = hashed
        return out
    enc = pc.dictionary_encode(arr)
    hashed = pd.util.hash_array(enc.dictionary.to_numpy(zero_copy_only=False), categorize=False)
    codes = enc.indices
    if nulls:
        out = hashed.take(codes.fill_null(0).to_numpy()) if len(hashed) else np.zeros(n, np.uint64)
        out[np.asarray(codes.is_null().to_numpy(zero_copy_only=False), bool)] = NULL_HASH
        return out
    return hashed.take(codes.to_numpy())


def combine_hashes(arrays: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Row hashes from per-column hashes, exactly as pandas combines them (CPython's tuple hash).

    >>> df = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    >>> cols = [pd.util.hash_pandas_object(df[c], index=False).to_numpy() for c in df]
    >>> bool((combine_hashes(cols, 2) == pd.util.hash_pandas_object(df, index=False).to_numpy()).all())
    True
    """
    if not arrays:
        return np.full(length, 0x345678 + 97531, dtype=np.uint64)
    num_items = len(arrays)
    mult = np.uint64(1000003)
    out = np.full(len(arrays[0]), 0x345678, dtype=np.uint64)
    for i, a in enumerate(arrays):
        inverse_i = num_items - i
        out ^= a
        out *= mult
        mult = np.uint64(int(mult) + 82520 + inverse_i + inverse_i)
    out += np.uint64(97531)
    return out


def _bisect(arr: pa.Array, x: str, *, right: bool) -> int:
    """Binary search in a sorted (non-decreasing) Arrow string array."""
    lo, hi = 0, len(arr)
    while lo < hi:
        mid = (lo + hi) // 2
        v = arr[mid].as_py()
        if (v <= x) if right else (v < x):
            lo = mid + 1
        else:
            hi = mid
    return lo


class KeySet:
    """An exact set of string keys built chunk by chunk, with each key's position and hash.

    ``lookup`` finds values by position (``-1``: absent). While the keys arrive sorted (exports
    usually are), a lookup binary-searches the range the values span and hash-joins only that
    slice; otherwise it probes a sorted array of 64-bit hashes and confirms every hit against
    the real key, so a hash collision never counts as a match.

    >>> ks = KeySet()
    >>> ks.add(pa.array(["C1", "C2"]))
    >>> ks.add(pa.array(["C3"]))
    >>> ks.lookup(pa.array(["C3", "C9", None, "C1"])).tolist()
    [2, -1, -1, 0]
    >>> ks.sorted, len(ks)
    (True, 3)
    """

    def __init__(self) -> None:
        self._parts: list[pa.Array] = []
        self._hparts: list[np.ndarray | None] = []
        self._keys: pa.Array | None = None
        self._hashes: np.ndarray | None = None
        self._index: tuple[np.ndarray, np.ndarray] | None = None  # sorted hashes, their positions
        self._indexed = 0  # keys covered by _index
        self.n = 0
        self.sorted = True  # non-decreasing so far
        self.strict = True  # strictly increasing so far
        self._last: str | None = None

    def __len__(self) -> int:
        return self.n

    @property
    def last(self) -> str | None:
        """The last key added."""
        return self._last

    def add(self, keys: Any, hashes: np.ndarray | None = None) -> None:
        """Append ``keys`` (no nulls); ``hashes``: their :func:`string_hash` values if known."""
        arr = arrow_strings(keys)
        if len(arr) == 0:
            return
        if arr.null_count:
            raise ValueError("KeySet keys must not be null")
        first, last = arr[0].as_py(), arr[len(arr) - 1].as_py()
        if self.sorted:
            inc = len(arr) < 2 or bool(pc.all(pc.less_equal(arr[:-1], arr[1:])).as_py())
            strict = inc and (len(arr) < 2 or bool(pc.all(pc.less(arr[:-1], arr[1:])).as_py()))
            prev = self._last
            self.sorted = inc and (prev is None or first >= prev)
            self.strict = self.strict and strict and (prev is None or first > prev)
        else:
            self.strict = False
        self._last = last
        self._parts.append(arr)
        self._hparts.append(hashes)
        self._keys = None
        self._hashes = None
        self.n += len(arr)

    def keys(self) -> pa.Array:
        """All keys in insertion order (one array)."""
        if self._keys is None:
            if not self._parts:
                self._keys = pa.array([], pa.large_string())
            elif len(self._parts) == 1:
                self._keys = self._parts[0]
            else:
                self._keys = pa.concat_arrays(self._parts)
                if any(h is None for h in self._hparts):
                    self._hparts = [None]
                else:
                    self._hparts = [np.concatenate(self._hparts)]
                self._parts = [self._keys]
        return self._keys

    def hashes(self) -> np.ndarray:
        """:func:`string_hash` of every key, aligned with :meth:`keys` (computed when first asked)."""
        if self._hashes is None:
            self.keys()
            for i, (p, h) in enumerate(zip(self._parts, self._hparts)):
                if h is None:
                    self._hparts[i] = string_hash(p)
            self._hashes = self._hparts[0] if len(self._hparts) == 1 else np.concatenate(self._hparts) if self._hparts else np.zeros(0, np.uint64)
        return self._hashes

    def _hash_index(self) -> tuple[np.ndarray, np.ndarray]:
        hashes = self.hashes()
        if self._index is None:
            order = np.argsort(hashes, kind="stable")
            self._index = (hashes[order], order.astype(np.int64))
        elif self._indexed < self.n:  # merge the keys added since
            new = np.arange(self._indexed, self.n, dtype=np.int64)
            hn = hashes[new]
            o = np.argsort(hn, kind="stable")
            hs, ps = self._index
            at = np.searchsorted(hs, hn[o], side="right")
            self._index = (np.insert(hs, at, hn[o]), np.insert(ps, at, new[o]))
        self._indexed = self.n
        return self._index

    def lookup(self, values: Any) -> np.ndarray:
        """Position in :meth:`keys` of each value (``-1`` where absent or null)."""
        vals = arrow_strings(values)
        out = np.full(len(vals), -1, np.int64)
        if self.n == 0 or len(vals) == 0 or vals.null_count == len(vals):
            return out
        keys = self.keys()
        lo, hi = 0, self.n
        if self.sorted:  # only the slice of keys the values span can match
            mm = pc.min_max(vals)
            lo = _bisect(keys, mm["min"].as_py(), right=False)
            hi = _bisect(keys, mm["max"].as_py(), right=True)
            if hi <= lo:
                return out
        if hi - lo > 4 * len(vals) + 65536:  # a hash join would rebuild a big table per call
            return self._probe(vals)
        idx = pc.index_in(vals, value_set=keys.slice(lo, hi - lo))
        got = np.asarray(idx.to_numpy(zero_copy_only=False))
        if idx.null_count:
            ok = np.asarray(idx.is_valid().to_numpy(zero_copy_only=False), bool)
            out[ok] = got[ok].astype(np.int64) + lo
        else:
            out[:] = got.astype(np.int64) + lo
        return out

    def _probe(self, vals: pa.Array) -> np.ndarray:
        """Lookup through the hash index, every hit confirmed on the real key."""
        out = np.full(len(vals), -1, np.int64)
        hs, ps = self._hash_index()
        hv = string_hash(vals)
        valid = np.asarray(vals.is_valid().to_numpy(zero_copy_only=False), bool)
        at = np.searchsorted(hs, hv)
        at_c = np.minimum(at, len(hs) - 1)
        cand = valid & (at < len(hs)) & (hs[at_c] == hv)
        if not cand.any():
            return out
        ci = np.flatnonzero(cand)
        pos = ps[at_c[ci]]
        keys = self.keys()
        same = np.asarray(pc.equal(keys.take(pa.array(pos)), vals.take(pa.array(ci))).to_numpy(zero_copy_only=False), bool)
        out[ci[same]] = pos[same]
        for i in ci[~same]:  # same hash, other key: look at the other keys with that hash
            j = int(at_c[i]) + 1
            v = vals[int(i)].as_py()
            while j < len(hs) and hs[j] == hv[i]:
                if keys[int(ps[j])].as_py() == v:
                    out[i] = ps[j]
                    break
                j += 1
        return out

    def contains(self, values: Any) -> np.ndarray:
        """Boolean mask: which values are keys (nulls never are)."""
        return self.lookup(values) >= 0
