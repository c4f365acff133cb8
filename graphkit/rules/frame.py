"""The item frame: claim items with their claim, patient and institution, column by column.

One row per item line, grouped by setting (inpatient, outpatient, pharmacy, others; stored order
within each), so each setting subset of the rules is a slice. Columns: the ``claim_items``
columns, plus ``ci`` (claim row), ``claim_id``, ``patient_id``, ``claim_type``,
``provider_type`` / ``provider_id``, ``doctor_id``, ``start`` / ``end`` (claim times), ``sday`` /
``eday`` (claim start / end day), ``iday`` (item day: ``item_time``'s day when given, else the
claim's), ``month``, ``diagnosis_code``, ``level`` (institution level; NaN for pharmacies),
``sex``, ``age`` (whole years at the claim), ``insurance_type``, ``fund_ratio`` (fund / total of
the claim) and ``los`` (days of an inpatient stay, 算入不算出, at least 1).

Lean by construction, and only what a rule asks for is ever spread over the lines:

- resident per line: the claim row ``ci``, ``amount``, the item day ``iday`` (when the data has
  item times) and the string item columns as codes (``item_code``, ``item_name``, ``category``,
  ``department``: a categorical with sorted categories, so sorting by codes sorts by value);
- per claim (``claims``, one row per claim, ``ci`` its row): the claim's own columns, numbers
  and categoricals — a line's value is gathered through ``ci`` when a rule reads the column;
- read again from the store when a rule reads them (embedded store): the 8-byte item columns
  ``quantity``, ``unit_price``, ``days_supply``, ``item_time``.

Columns spread over the lines are kept in a small least-recently-used cache (about
:data:`CACHE_BYTES_PER_LINE` bytes a line) so the rules of one setting share them. At 11.7M
claims and 26.5M item lines the frame held every column on every line (3.1 GB); it now holds
≈ 1.6 GB, and a rule sees only the columns its shape reads (:meth:`ItemFrame.take`).

>>> import tempfile
>>> from graphkit.store import EmbeddedStore
>>> d = tempfile.mkdtemp()
>>> EmbeddedStore.write(d, {"claims": pd.DataFrame({"claim_id": ["C1", "C2"], "patient_id": ["P1", "P2"],
...     "claim_type": ["pharmacy", "inpatient"], "institution_id": [None, "H1"], "pharmacy_id": ["Y1", None],
...     "start_time": pd.to_datetime(["2024-01-02", "2024-01-05"]), "total_amount": [10.0, 90.0],
...     "fund_amount": [5.0, 90.0]}),
...     "claim_items": pd.DataFrame({"claim_id": ["C1", "C2", "C2"], "item_code": ["A", "B", "A"],
...                                  "amount": [10.0, 60.0, 30.0], "quantity": [1.0, 2.0, 3.0]})})
>>> fr = build_frame(EmbeddedStore(d))
>>> fr.take(["claim_id", "claim_type", "quantity"]).values.tolist()   # inpatient lines first
[['C2', 'inpatient', 2.0], ['C2', 'inpatient', 3.0], ['C1', 'pharmacy', 1.0]]
>>> fr.take(["provider_id", "fund_ratio"], np.array([2])).values.tolist()
[['Y1', 0.5]]
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._fast import sorted_codes
from ..allocator import release_memory
from ..profile import latest_births

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["ItemFrame", "build_frame", "OPTIONAL_ITEM_COLUMNS", "CLAIM_COLUMNS", "CACHE_BYTES_PER_LINE"]

#: optional claim_items columns a rule may need (absent or all null → the rule does not run)
OPTIONAL_ITEM_COLUMNS = ("item_name", "category", "quantity", "unit_price", "item_time", "days_supply", "department")
#: the string item columns: held on every line as codes (1–2 bytes a line)
_STRING_ITEMS = ("item_code", "item_name", "category", "department")
#: the 8-byte item columns read again from the store when a rule reads them (embedded store)
_LAZY_ITEMS = ("quantity", "unit_price", "item_time", "days_supply")
#: per-claim columns a line takes through its claim row ``ci`` (``claim_id`` aside)
CLAIM_COLUMNS = ("patient_id", "claim_type", "provider_type", "provider_id", "doctor_id", "start", "end", "sday",
                 "eday", "month", "diagnosis_code", "level", "sex", "age", "age_lo", "insurance_type", "fund_ratio", "los")
#: bytes a line of columns spread over the lines kept for the next rules (least recently used
#: dropped first): 32 B ≈ four 8-byte or eight 4-byte columns — 0.85 GB at 26.5M lines
CACHE_BYTES_PER_LINE = 32
_DAY = np.int64(86_400)

Values = Any  # a numpy array or a pandas Categorical, one value per line


def _nbytes(v: Values) -> int:
    return int(v.codes.nbytes if isinstance(v, pd.Categorical) else np.asarray(v).nbytes)


def _gather(col: Values, rows: np.ndarray | slice) -> Values:
    """``col``'s values at ``rows`` (a categorical keeps its categories, unchecked)."""
    if isinstance(col, pd.Categorical):
        return pd.Categorical.from_codes(np.asarray(col.codes)[rows], dtype=col.dtype)
    return np.asarray(col)[rows]


@dataclass
class ItemFrame:
    """Item lines with their claim context, column by column (see the module docstring).

    ``lines``: the resident line columns (``ci``, ``amount``, the string item columns);
    ``claims``: one row per claim; ``claim_ids``: the claims' ids (Arrow strings, by claim row),
    or a function that reads them again (a streaming store: 0.25 GB at 11.7M claims not held while
    the rules run);
    ``reader``: reads an item column of ``lazy`` from the store, in the frame's line order;
    ``present``: which optional columns hold data.
    """

    lines: pd.DataFrame
    claims: pd.DataFrame
    claim_ids: pa.Array | Callable[[], pa.Array]
    present: dict[str, bool] = field(default_factory=dict)
    reader: Callable[[str], np.ndarray] | None = None
    lazy: tuple[str, ...] = ()
    cache_bytes: int = 0
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    #: the cache is shared by the rules running at once (:func:`graphkit.rules.engine.run_rules`'s
    #: threads): reads and spreads of columns hold this lock
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def columns(self) -> list[str]:
        """Every column a rule can read, in the frame's documented order."""
        opt = [c for c in OPTIONAL_ITEM_COLUMNS if c in self.lines.columns or c in self.lazy]
        return ["claim_id", "item_code", "amount", *opt, "ci", *CLAIM_COLUMNS, "iday"]

    @property
    def ci(self) -> np.ndarray:
        """The claim row of every line."""
        return self.lines["ci"].to_numpy()

    def missing(self, needs: tuple[str, ...]) -> list[str]:
        """Columns of ``needs`` the data does not hold."""
        return [c for c in needs if not self.present.get(c, False)]

    def has_lines(self) -> np.ndarray:
        """Per claim row, whether the claim has item lines."""
        has = np.zeros(len(self.claims), bool)
        has[self.ci] = True
        return has

    def claim_id(self, rows: np.ndarray | slice | None = None) -> pd.Categorical:
        """The claim id of lines ``rows`` (all: None) as a categorical of the claims they hold,
        categories sorted."""
        ci = self.ci if rows is None else self.ci[rows]
        u, inv = np.unique(ci, return_inverse=True)
        every = self.claim_ids if isinstance(self.claim_ids, (pa.Array, pa.ChunkedArray)) else self.claim_ids()
        ids = every.take(pa.array(u)).to_numpy(zero_copy_only=False).astype(object)
        del every
        order = np.argsort(ids, kind="stable")
        rank = np.empty(order.size, np.int32)
        rank[order] = np.arange(order.size, dtype=np.int32)
        return pd.Categorical.from_codes(rank[inv.reshape(-1)], categories=pd.Index(ids[order], dtype="str"))

    def _per_claim(self, name: str) -> Values:
        """Claim column ``name``, one value per claim row."""
        col = self.claims[name]
        return col.array if isinstance(col.dtype, pd.CategoricalDtype) else col.to_numpy()

    def _spread(self, name: str) -> Values:
        """Column ``name`` on every line (not cached)."""
        if name in CLAIM_COLUMNS:
            return _gather(self._per_claim(name), self.ci)
        if name == "iday":  # no item times (else ``iday`` is a line column): the claim's day
            return self.claims["sday"].to_numpy()[self.ci]
        if name in self.lazy and self.reader is not None:
            return self.reader(name)
        raise KeyError(f"the item frame has no column {name!r}")

    def column(self, name: str) -> Values:
        """Column ``name`` on every line (a numpy array or a categorical); a column spread over
        the lines is kept for the next call while it fits the cache."""
        with self._lock:
            return self._column(name)

    def _column(self, name: str) -> Values:
        if name in self.lines.columns:
            s = self.lines[name]
            return s.array if isinstance(s.dtype, pd.CategoricalDtype) else s.to_numpy()
        if name == "claim_id":
            return self.claim_id()
        if name in self._cache:
            self._cache.move_to_end(name)
            return self._cache[name]
        v = self._spread(name)
        size = _nbytes(v)
        if size <= self.cache_bytes:
            while self._cache and sum(map(_nbytes, self._cache.values())) + size > self.cache_bytes:
                self._cache.popitem(last=False)
            self._cache[name] = v
        return v

    def keep_cached(self, cols: list[str] | tuple[str, ...]) -> None:
        """Forget the cached columns not in ``cols`` (the next rule's): while it runs, the cache
        holds only what it reads — the rest would sit beside its working arrays at the peak."""
        with self._lock:
            for c in [c for c in self._cache if c not in cols]:
                del self._cache[c]

    def drop_cache(self) -> None:
        """Forget the columns spread over the lines (their memory goes with their last user)."""
        with self._lock:
            self._cache.clear()

    def take(self, cols: list[str] | tuple[str, ...] | None = None,
             rows: np.ndarray | slice | None = None) -> pd.DataFrame:
        """Columns ``cols`` (all: None) of lines ``rows`` (all: None; a slice: views of the
        resident and cached columns; positions: copies) as a DataFrame indexed by frame row. A
        claim column not cached is gathered at ``rows`` only when they are less than half the
        lines (else spread over every line and cached for the next rules)."""
        with self._lock:
            return self._take(cols, rows)

    def _take(self, cols: list[str] | tuple[str, ...] | None, rows: np.ndarray | slice | None) -> pd.DataFrame:
        n = len(self)
        if rows is None:
            index: pd.Index = pd.RangeIndex(n)
        elif isinstance(rows, slice):
            a, b, _ = rows.indices(n)
            rows, index = slice(a, b), pd.RangeIndex(a, b)
        else:
            rows = np.asarray(rows)
            index = pd.Index(rows)
        out: dict[str, Any] = {}
        for c in (self.columns if cols is None else cols):
            if c == "claim_id":
                out[c] = self.claim_id(rows)
            elif rows is None:
                out[c] = self.column(c)
            elif c in CLAIM_COLUMNS and c not in self._cache and _size(rows) < n // 2:
                # a small part of the lines: gathered there, not spread over every line
                out[c] = _gather(self._per_claim(c), self.ci[rows])
            else:
                out[c] = _gather(self.column(c), rows)
        return pd.DataFrame(out, index=index, copy=False)

    @property
    def df(self) -> pd.DataFrame:
        """The whole frame, every column on every line (small data, tests: at 26.5M lines this
        is ≈ 3 GB — rules read :meth:`take` instead)."""
        return self.take()


def _size(rows: np.ndarray | slice) -> int:
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def _days(ts: pd.Series | np.ndarray) -> np.ndarray:
    """Calendar day numbers (days since 1970-01-01) of datetimes; -1 for null."""
    t = np.asarray(ts, dtype="datetime64[s]")
    out = np.floor_divide(t.astype("int64"), _DAY)
    return np.where(np.isnat(t), -1, out)


def _arrow_strings(values: Any) -> pa.Array | None:
    """``values`` as one Arrow large_string array, or None when they are not strings."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = values
    else:
        try:
            arr = pa.array(values.array if isinstance(values, pd.Series) else values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    return arr.cast(pa.large_string())


def _cat(values: Any) -> pd.Categorical:
    """A categorical with sorted categories (so sorting by it sorts by value); nulls stay null.
    Strings are hashed and sorted by Arrow (distinct values sorted once, codes remapped by rank):
    pandas' sorted factorize of 10M ids took ≈ 6 s each."""
    arr = _arrow_strings(values)
    if arr is None or not len(arr):
        if isinstance(values, (pa.Array, pa.ChunkedArray)):
            values = values.to_pandas()
        codes, cats = pd.factorize(pd.Series(values), sort=True)
        return pd.Categorical.from_codes(codes.astype(np.int32), categories=cats)
    d = pc.dictionary_encode(arr)
    order = pc.sort_indices(d.dictionary).to_numpy()
    rank = np.empty(len(order) + 1, dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    rank[-1] = -1
    idx = d.indices.fill_null(len(order)).to_numpy(zero_copy_only=False)
    keep = values.dtype if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype) else "str"
    cats = pd.Index(d.dictionary.take(pa.array(order)), dtype=keep)
    out = pd.Categorical.from_codes(rank[idx], categories=cats)
    _drop_hash_table(out.categories)
    return out


def _drop_hash_table(index: pd.Index) -> None:
    """Free the hash table pandas keeps on an index once it has checked its values (unique,
    sorted): for 1M patient ids ≈ 70 MB of Python strings and hashes, never used again here
    (the frame's lookups go through codes; ``shapes.codes_of`` checks sortedness in Arrow)."""
    cache = getattr(index, "_cache", None)
    if isinstance(cache, dict):
        cache.pop("_engine", None)


def _lookup(keys: Any, values: Any) -> np.ndarray:
    """Row of each of ``keys`` in ``values`` (-1: absent or null), one Arrow hash of ``values``."""
    k, v = _arrow_strings(keys), _arrow_strings(values)
    if k is None or v is None:
        return pd.Index(_pandas(values)).get_indexer(_pandas(keys))
    return pc.index_in(k, value_set=v).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _pandas(values: Any) -> Any:
    return values.to_pandas() if isinstance(values, (pa.Array, pa.ChunkedArray)) else values


def _rows_of(col: pd.Categorical, rows: np.ndarray) -> pd.Categorical:
    """A categorical of ``col``'s value at ``rows`` (-1: null), only the categories used."""
    codes = np.append(np.asarray(col.codes), -1)[np.where(rows >= 0, rows, len(col))].astype(np.int32)
    return pd.Categorical.from_codes(codes, categories=col.categories).remove_unused_categories()


def _months(ts: np.ndarray) -> pd.Categorical:
    """Calendar months ``YYYY-MM`` of datetimes as a categorical (formatted once per distinct month)."""
    m = np.asarray(ts, dtype="datetime64[s]").astype("datetime64[M]")
    codes, uniq = pd.factorize(m, sort=True)  # NaT → -1
    cats = pd.Index(pd.DatetimeIndex(uniq.astype("datetime64[s]")).strftime("%Y-%m"), dtype="str")
    return pd.Categorical.from_codes(codes.astype(np.int32), categories=cats)


def _sorted(cat: pd.Categorical) -> pd.Categorical:
    """``cat`` with its categories sorted (so sorting by codes sorts by value) and held as strings.

    >>> c = _sorted(pd.Categorical.from_codes([0, 1, -1, 0], categories=["b", "a"]))
    >>> c.codes.tolist(), list(c.categories)
    ([1, 0, -1, 1], ['a', 'b'])
    """
    if not all(isinstance(v, str) for v in cat.categories):  # ids held as other types: compared as text
        cat = pd.Categorical.from_codes(cat.codes, categories=[str(v) for v in cat.categories], validate=False)
    codes, values = sorted_codes(cat, np.int32)
    return pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype="str"))


def _batches(store: Store, cols: list[str]) -> Iterator[pd.DataFrame]:
    """``claim_items`` in batches where the store streams it (the embedded store), else whole."""
    if hasattr(store, "iter_table"):
        from graphkit.store.embedded import to_frame

        for t in store.iter_table("claim_items", cols):
            yield to_frame(t)
    else:
        yield store.table("claim_items", cols)


def _number(b: pd.DataFrame, c: str) -> np.ndarray:
    return b[c].to_numpy("datetime64[s]") if c == "item_time" else b[c].to_numpy("float64", na_value=np.nan)


def _claim_rows(store: Store, claim_ids: pa.Array) -> np.ndarray:
    """The claim row of every item line, in stored order: the item lines' ``claim_id`` column is
    read alone and looked up in one ``index_in`` call (Arrow hashes the 10M claim ids once; a call
    per batch hashed them again each time: 131 of the 164 s of a 24M-line frame)."""
    if hasattr(store, "iter_table"):  # Arrow batches as stored: no pandas strings in between
        parts = [_ids_of(t.column("claim_id")) for t in store.iter_table("claim_items", ["claim_id"])]
    else:
        parts = [pa.array(b["claim_id"].array, type=pa.large_string()) for b in _batches(store, ["claim_id"])]
    col = pa.chunked_array(parts, type=pa.large_string())
    del parts
    ci = pc.index_in(col, value_set=claim_ids)
    bad = pc.is_null(ci)
    if pc.any(bad).as_py():  # a loaded store holds no dangling items; be explicit if one does
        first = int(pc.index(bad, True).as_py())
        raise ValueError(f"claim_items: row {first + 1}: claim_id {col[first].as_py()!r} is not in claims")
    del col
    return ci.to_numpy().astype(np.int32 if len(claim_ids) < 2**31 else np.int64)


def _read_items(store: Store, cols: list[str]) -> dict[str, Any]:
    """The item columns ``cols`` in stored order: strings as categoricals with sorted categories
    (``Store.table_codes``: the embedded store reads item codes, names and categories as Parquet's
    own dictionaries), numbers as float64 (``item_time``: datetime64[s]) — no column of Python
    strings is ever built."""
    strings = [c for c in cols if c in _STRING_ITEMS]
    out: dict[str, Any] = {}
    nums = [c for c in cols if c not in strings]
    if nums and hasattr(store, "iter_table"):
        for c in nums:
            out[c] = _read_number(store, c)
    elif nums:
        b = store.table("claim_items", nums)
        for c in nums:
            out[c] = _number(b, c)
        del b
    for c in strings:  # one column at a time: its codes (4 bytes a line) held only until sorted
        out[c] = _sorted(store.table_codes("claim_items", [c])[c])
    return {c: out[c] for c in cols}


def _read_number(store: Store, name: str) -> np.ndarray:
    """A numeric item column in stored order straight from Arrow (float64 with NaN for null;
    ``item_time``: datetime64[s] with NaT) — what :func:`_read_items` gives, without pandas."""
    parts = []
    for t in store.iter_table("claim_items", [name]):
        col = t.column(name)
        parts.append(_times(col) if name == "item_time" else
                     np.asarray(pc.cast(col, pa.float64()).to_numpy(), dtype="float64"))
    if not parts:
        return np.empty(0, "datetime64[s]" if name == "item_time" else "float64")
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


#: claim types in the order the frame holds their lines (others and nulls last)
SETTING_ORDER = ("inpatient", "outpatient", "pharmacy")


def _setting_rank(claim_type: pd.Categorical) -> np.ndarray:
    """Per claim, the position of its type in :data:`SETTING_ORDER` (others and nulls: after them).

    >>> _setting_rank(pd.Categorical(["pharmacy", "inpatient", None, "internet", "outpatient"])).tolist()
    [2, 0, 3, 3, 1]
    """
    per_cat = pd.Index(SETTING_ORDER).get_indexer(claim_type.categories.astype(object))
    per_cat = np.where(per_cat >= 0, per_cat, len(SETTING_ORDER))
    return np.append(per_cat, len(SETTING_ORDER))[np.asarray(claim_type.codes)].astype(np.int8)


def build_frame(store: Store, *, cache_bytes_per_line: int | None = None) -> ItemFrame:
    """Join ``claim_items`` with claims, patients and institutions of ``store``."""
    have = set(store.columns("claim_items"))
    opt = [c for c in OPTIONAL_ITEM_COLUMNS if c in have]
    claims, claim_ids = _claim_context(store)
    release_memory()
    ci = _claim_rows(store, claim_ids)
    # the 8-byte item columns are read again when a rule asks (a streaming store reads them in
    # stored order, which does not change); a store that cannot stream keeps them on every line
    streams = hasattr(store, "iter_table")
    lazy = tuple(c for c in _LAZY_ITEMS if c in opt) if streams else ()
    resident = ["item_code", "amount"] + [c for c in opt if c not in lazy]
    # lines grouped by setting (inpatient, outpatient, pharmacy, any other), stable within each:
    # every setting subset a rule takes is then one contiguous slice of the frame
    lrank = _setting_rank(claims["claim_type"].array)[ci]
    order = None
    if lrank.size and (np.diff(lrank) < 0).any():
        order = np.argsort(lrank, kind="stable").astype(np.int32 if lrank.size < 2**31 else np.int64)
        ci = ci[order]
    del lrank
    items = _read_items(store, resident)
    if order is not None:
        items = {c: v[order] for c, v in items.items()}  # numpy arrays and categoricals alike
    release_memory()
    present = {c: (c in items and bool(pd.notna(items[c]).any())) for c in OPTIONAL_ITEM_COLUMNS}
    lines = pd.DataFrame({"item_code": items.pop("item_code"), "amount": items.pop("amount"),
                          **{c: items.pop(c) for c in resident[2:]}, "ci": ci}, copy=False)
    del items
    for c in lines.columns:
        if isinstance(lines[c].dtype, pd.CategoricalDtype):
            _drop_hash_table(lines[c].cat.categories)

    def reader(name: str) -> np.ndarray:
        v = _read_number(store, name)
        return v if order is None else v[order]

    if "item_time" in opt:  # the item day, which many rules read, is held on every line (4 bytes)
        t = reader("item_time") if "item_time" in lazy else lines["item_time"].to_numpy()
        present["item_time"] = bool((~np.isnat(t)).any())
        if present["item_time"]:  # a line without its own time (or before 1970) takes the claim's day
            day = _days(t)
            lines["iday"] = np.where(day >= 0, day, claims["sday"].to_numpy()[ci]).astype(np.int32)
            del day
        del t
    per_line = CACHE_BYTES_PER_LINE if cache_bytes_per_line is None else cache_bytes_per_line
    if streams:  # a streaming store reads the ids again when the findings name their claims
        del claim_ids

        def claim_ids() -> pa.Array:
            return _ids_of(_arrow(store, "claims", ["claim_id"]).column("claim_id"))

    frame = ItemFrame(lines, claims, claim_ids, present, reader, lazy, cache_bytes=per_line * len(lines))
    for c in lazy:  # read once to see whether it holds data; kept for the first rules while it fits
        if c != "item_time":
            present[c] = bool(pd.notna(frame.column(c)).any())
            if not present[c]:
                frame._cache.pop(c, None)
    return frame


def _arrow(store: Store, name: str, cols: list[str]) -> pa.Table:
    """Columns ``cols`` of table ``name`` as one Arrow table (absent ones all null)."""
    if hasattr(store, "iter_table"):
        parts = list(store.iter_table(name, cols))
        t = pa.concat_tables(parts) if parts else None
        del parts
        if t is None:
            t = pa.Table.from_pandas(store.table(name, cols), preserve_index=False)
    else:
        t = pa.Table.from_pandas(store.table(name, cols), preserve_index=False)
    for c in cols:
        if c not in t.column_names:
            t = t.append_column(c, pa.nulls(t.num_rows, pa.string()))
    return t


def _ids_of(col: pa.ChunkedArray) -> pa.Array:
    """An id column as one Arrow large_string array."""
    ids = _arrow_strings(col)
    return ids if ids is not None else pa.array(col.to_pandas().astype(str), type=pa.large_string())


def _times(col: pa.ChunkedArray) -> np.ndarray:
    """An Arrow timestamp (or null) column as datetime64[s]."""
    if pa.types.is_null(col.type):
        return np.full(len(col), np.datetime64("NaT"), "datetime64[s]")
    return col.cast(pa.timestamp("s")).to_numpy().astype("datetime64[s]")


def _whole_years(birth: np.ndarray, pidx: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Age in whole years (birthday reached or not) at each claim's ``day`` of the person at
    patient row ``pidx`` (-1: unknown) born on ``birth`` (per patient row); NaN when unknown.

    >>> _whole_years(np.array(["2000-03-01"], "datetime64[D]"), np.array([0, -1]),
    ...              np.array(["2010-02-28", "2010-03-01"], "datetime64[D]")).tolist()
    [9.0, nan]
    """
    # years and days into the year: per person (births) and per distinct claim day (a table over
    # the days' range), then gathered — not four datetime conversions over every claim
    birth = np.asarray(birth, dtype="datetime64[D]")
    by = birth.astype("datetime64[Y]").astype(np.int64)
    bmd = (birth - birth.astype("datetime64[Y]")).astype(np.int64)
    unknown = np.append(np.isnat(birth), True)[np.where(pidx >= 0, pidx, len(birth))]
    p = np.where(unknown, 0, pidx)
    dn = np.asarray(day, dtype="datetime64[D]").astype(np.int64)
    unknown |= np.isnat(day)
    d0 = int(dn[~unknown].min(initial=0))
    span = np.arange(d0, int(dn[~unknown].max(initial=d0)) + 1).astype("datetime64[D]")
    sy = span.astype("datetime64[Y]").astype(np.int64)
    smd = (span - span.astype("datetime64[Y]")).astype(np.int64)
    d = np.where(unknown, 0, dn - d0)
    del dn
    age = (sy[d] - by[p] - (smd[d] < bmd[p])).astype("float32") if len(birth) else np.zeros(len(d), "float32")
    age[unknown] = np.nan
    return age


def _claim_context(store: Store) -> tuple[pd.DataFrame, pa.Array]:
    """Per claim (row = ``ci``) the columns its lines take, as categoricals and compact numbers,
    and the claim ids as one Arrow array (to find each line's claim). Read through Arrow and
    encoded column by column: no column of Python strings is built."""
    cl = _arrow(store, "claims", ["claim_id", "patient_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id",
                                  "start_time", "end_time", "diagnosis_code", "total_amount", "fund_amount"])
    pt = _arrow(store, "patients", ["patient_id", "sex", "birth_date", "insurance_type"])
    inst = _arrow(store, "institutions", ["institution_id", "level"])
    claim_ids = _ids_of(cl.column("claim_id"))
    inst_id = cl.column("institution_id")
    ph = pc.is_valid(cl.column("pharmacy_id")).to_numpy(zero_copy_only=False)
    ptype = pd.Categorical.from_codes(ph.astype(np.int32), categories=["institution", "pharmacy"]).remove_unused_categories()
    pid = _cat(pc.coalesce(inst_id, cl.column("pharmacy_id")) if not pa.types.is_null(inst_id.type)
               else cl.column("pharmacy_id"))
    irow = _lookup(inst_id, inst.column("institution_id"))
    ilvl = inst.column("level").to_pandas().to_numpy("float64", na_value=np.nan) if inst.num_rows else np.zeros(0)
    lvl = np.where(irow >= 0, np.append(ilvl, np.nan)[np.where(irow >= 0, irow, len(ilvl))], np.nan)
    del irow, inst_id
    pidx = _lookup(cl.column("patient_id"), pt.column("patient_id"))
    start = _times(cl.column("start_time"))
    end = _times(cl.column("end_time"))
    bd = _times(pt.column("birth_date")).astype("datetime64[D]")
    sd = start.astype("datetime64[D]")
    # whole years at the claim; where birth dates are known only to the month (a pseudonymised
    # store) or year, ``age`` is the oldest the person can be, ``age_lo`` the youngest
    age = _whole_years(bd, pidx, sd)
    last = latest_births(bd)
    age_lo = age if last is bd else _whole_years(last, pidx, sd)
    del sd, bd
    sday = _days(start)
    eday = _days(end)
    los = np.where(eday >= 0, np.maximum(eday - sday, 1), 1)
    tot = cl.column("total_amount").to_pandas().to_numpy("float64", na_value=np.nan)
    fund = cl.column("fund_amount").to_pandas().to_numpy("float64", na_value=np.nan)
    ratio = np.divide(fund, tot, out=np.ones_like(tot), where=tot > 0)
    del tot, fund
    claims = pd.DataFrame({
        "patient_id": _cat(cl.column("patient_id")),
        "claim_type": _cat(cl.column("claim_type")),
        "provider_type": ptype, "provider_id": pid,
        "doctor_id": _cat(cl.column("doctor_id")),
        "start": start, "end": end,
        "sday": sday.astype(np.int32), "eday": eday.astype(np.int32),
        "month": _months(start),
        "diagnosis_code": _cat(cl.column("diagnosis_code")),
        "level": lvl.astype(np.float32), "sex": _rows_of(_cat(pt.column("sex")), pidx), "age": age, "age_lo": age_lo,
        "insurance_type": _rows_of(_cat(pt.column("insurance_type")), pidx),
        "fund_ratio": ratio, "los": los.astype(np.int32),
    }, copy=False)
    for c in claims.columns:
        if isinstance(claims[c].dtype, pd.CategoricalDtype):
            _drop_hash_table(claims[c].cat.categories)
    return claims, claim_ids
