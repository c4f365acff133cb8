"""The item frame: claim items joined with their claim, patient and institution (vectorised).

One row per item line, grouped by setting (inpatient, outpatient, pharmacy, others; stored order
within each), so each setting subset of the rules is a slice, not a copy. Columns: the
``claim_items`` columns, plus ``ci`` (claim row), ``patient_id``, ``claim_type``, ``provider_type``
/ ``provider_id``, ``doctor_id``, ``start`` / ``end`` (claim times), ``sday`` (claim start day),
``iday`` (item day: ``item_time``'s day when given, else the claim's), ``month``,
``diagnosis_code``, ``level`` (institution level; NaN for pharmacies), ``sex``, ``age`` (whole
years at the claim), ``insurance_type``, ``fund_ratio`` (fund / total of the claim) and ``los``
(days of an inpatient stay, 算入不算出, at least 1).

Lean by construction: every string column (ids, codes, names, month, diagnosis, sex, …) is a
categorical with sorted categories (int32 codes, so sorting by codes sorts by value), day
numbers are int32, and ``claim_items`` is read batch by batch straight into those codes — no
column of Python strings is built (951,605 claims / 3.04M item lines: ≈ 0.4 GB).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..allocator import release_memory

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["ItemFrame", "build_frame", "OPTIONAL_ITEM_COLUMNS"]

#: optional claim_items columns a rule may need (absent or all null → the rule does not run)
OPTIONAL_ITEM_COLUMNS = ("item_name", "category", "quantity", "unit_price", "item_time", "days_supply", "department")
_DAY = np.int64(86_400)


@dataclass
class ItemFrame:
    """Item lines with their claim context; ``present`` says which optional columns hold data."""

    df: pd.DataFrame
    present: dict[str, bool] = field(default_factory=dict)

    def missing(self, needs: tuple[str, ...]) -> list[str]:
        """Columns of ``needs`` the data does not hold."""
        return [c for c in needs if not self.present.get(c, False)]


def _days(ts: pd.Series) -> np.ndarray:
    """Calendar day numbers (days since 1970-01-01) of datetimes; -1 for null."""
    v = ts.to_numpy("datetime64[s]").astype("int64")
    out = np.floor_divide(v, _DAY)
    return np.where(ts.isna().to_numpy(), -1, out)


def _arrow_strings(values: Any) -> pa.Array | None:
    """``values`` as one Arrow large_string array, or None when they are not strings."""
    try:
        arr = pa.array(values.array if isinstance(values, pd.Series) else values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    return arr.cast(pa.large_string())


def _cat(values: Any) -> pd.Categorical:
    """A categorical with sorted categories (so sorting by it sorts by value); nulls stay null.
    Strings are hashed and sorted by Arrow (distinct values sorted once, codes remapped by rank):
    pandas' sorted factorize of 10M ids took ≈ 6 s each."""
    arr = _arrow_strings(values)
    if arr is None or not len(arr):
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
    sorted): for 11.7M claim ids ≈ 0.8 GB of Python strings and hashes, never used again here
    (the frame's lookups go through codes; ``shapes.codes_of`` checks sortedness in Arrow)."""
    cache = getattr(index, "_cache", None)
    if isinstance(cache, dict):
        cache.pop("_engine", None)


def _lookup(keys: pd.Series, values: pd.Series) -> np.ndarray:
    """Row of each of ``keys`` in ``values`` (-1: absent or null), one Arrow hash of ``values``."""
    k, v = _arrow_strings(keys), _arrow_strings(values)
    if k is None or v is None:
        return pd.Index(values).get_indexer(keys)
    return pc.index_in(k, value_set=v).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _rows_of(col: pd.Categorical, rows: np.ndarray) -> pd.Categorical:
    """A categorical of ``col``'s value at ``rows`` (-1: null), only the categories used."""
    codes = np.where(rows >= 0, np.asarray(col.codes)[np.maximum(rows, 0)], -1).astype(np.int32)
    return pd.Categorical.from_codes(codes, categories=col.categories).remove_unused_categories()


def _months(ts: pd.Series) -> pd.Categorical:
    """Calendar months ``YYYY-MM`` of datetimes as a categorical (formatted once per distinct month)."""
    m = ts.to_numpy("datetime64[M]")
    codes, uniq = pd.factorize(m, sort=True)  # NaT → -1
    cats = pd.Index(pd.DatetimeIndex(uniq.astype("datetime64[s]")).strftime("%Y-%m"), dtype="str")
    return pd.Categorical.from_codes(codes.astype(np.int32), categories=cats)


def _take(col: pd.Series | pd.Categorical, rows: np.ndarray) -> pd.Categorical:
    """Rows of a categorical (column), without decoding its values."""
    c = col.array if isinstance(col, pd.Series) else col
    return pd.Categorical.from_codes(c.codes[rows], dtype=c.dtype)  # the dtype: categories not checked again


class _Codes:
    """Integer codes of a string column read batch by batch (one dictionary for all batches)."""

    def __init__(self) -> None:
        self.values = pd.Index([], dtype=object)
        self.parts: list[np.ndarray] = []

    def add(self, col: pd.Series) -> None:
        codes, uniq = pd.factorize(col)
        glob = self.values.get_indexer(uniq)
        new = glob < 0
        if new.any():
            glob[new] = len(self.values) + np.arange(int(new.sum()))
            self.values = self.values.append(pd.Index(np.asarray(uniq, dtype=object)[new], dtype=object))
        self.parts.append(np.append(glob, -1)[np.where(codes >= 0, codes, len(glob))].astype(np.int32))

    def categorical(self) -> pd.Categorical:
        """The codes as a categorical with sorted categories."""
        order = np.argsort(self.values.to_numpy(), kind="stable")
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        codes = np.concatenate(self.parts) if self.parts else np.empty(0, np.int32)
        codes = np.append(rank, -1)[np.where(codes >= 0, codes, len(rank))].astype(np.int32)
        cats = pd.Index(self.values.to_numpy()[order], dtype="str")
        return pd.Categorical.from_codes(codes, categories=cats)


def _batches(store: Store, cols: list[str]) -> Iterator[pd.DataFrame]:
    """``claim_items`` in batches where the store streams it (the embedded store), else whole."""
    if hasattr(store, "iter_table"):
        from graphkit.store.embedded import to_frame

        for t in store.iter_table("claim_items", cols):
            yield to_frame(t)
    else:
        yield store.table("claim_items", cols)


def _claim_rows(store: Store, claim_ids: pa.Array) -> np.ndarray:
    """The claim row of every item line, in stored order: the item lines' ``claim_id`` column is
    read alone and looked up in one ``index_in`` call (Arrow hashes the 10M claim ids once; a call
    per batch hashed them again each time: 131 of the 164 s of a 24M-line frame)."""
    col = pa.chunked_array([pa.array(b["claim_id"].array, type=pa.large_string()) for b in _batches(store, ["claim_id"])],
                           type=pa.large_string())
    ci = pc.index_in(col, value_set=claim_ids)
    bad = pc.is_null(ci)
    if pc.any(bad).as_py():  # a loaded store holds no dangling items; be explicit if one does
        first = int(pc.index(bad, True).as_py())
        raise ValueError(f"claim_items: row {first + 1}: claim_id {col[first].as_py()!r} is not in claims")
    del col
    return ci.to_numpy().astype(np.int32 if len(claim_ids) < 2**31 else np.int64)


def _read_items(store: Store, cols: list[str], claim_ids: pa.Array) -> dict[str, Any]:
    """The item columns the frame keeps, read batch by batch: strings as codes, numbers as
    float64, ``ci`` the row of each line's claim (no column of Python strings is ever built)."""
    strings = {c: _Codes() for c in cols if c in ("item_code", "item_name", "category", "department")}
    nums: dict[str, list[np.ndarray]] = {c: [] for c in cols if c not in strings and c != "claim_id"}
    ci = _claim_rows(store, claim_ids)
    for b in _batches(store, [c for c in cols if c != "claim_id"]):
        for c, enc in strings.items():
            enc.add(b[c])
        for c in nums:
            nums[c].append(b[c].to_numpy("datetime64[s]") if c == "item_time" else b[c].to_numpy("float64", na_value=np.nan))
    out: dict[str, Any] = {c: enc.categorical() for c, enc in strings.items()}
    for c, parts in nums.items():
        out[c] = np.concatenate(parts) if parts else np.empty(0, "datetime64[s]" if c == "item_time" else "float64")
    out["ci"] = ci
    return out


#: claim types in the order the frame holds their lines (others and nulls last)
SETTING_ORDER = ("inpatient", "outpatient", "pharmacy")


def _setting_rank(claim_type: pd.Series) -> np.ndarray:
    """Per claim, the position of its type in :data:`SETTING_ORDER` (others and nulls: after them).

    >>> _setting_rank(pd.Series(["pharmacy", "inpatient", None, "internet", "outpatient"])).tolist()
    [2, 0, 3, 3, 1]
    """
    r = pd.Index(SETTING_ORDER).get_indexer(claim_type.astype(object).where(claim_type.notna(), None))
    return np.where(r >= 0, r, len(SETTING_ORDER)).astype(np.int8)


def build_frame(store: Store) -> ItemFrame:
    """Join ``claim_items`` with claims, patients and institutions of ``store``."""
    have = set(store.columns("claim_items"))
    icols = ["claim_id", "item_code", "amount"] + [c for c in OPTIONAL_ITEM_COLUMNS if c in have]
    cctx, claim_ids, rank = _claim_context(store)
    release_memory()
    # the claims' own columns (≈ 2.5 GB of strings at 11.7M claims) are gone before the item lines
    # are read: the frame's build then peaks at about its own size plus the claims' context
    items = _read_items(store, icols, claim_ids)
    del claim_ids
    present = {c: (c in items and bool(pd.notna(items[c]).any())) for c in OPTIONAL_ITEM_COLUMNS}
    ci = items.pop("ci")
    # lines grouped by setting (inpatient, outpatient, pharmacy, any other), stable within each:
    # every setting subset a rule takes is then one contiguous slice of the frame — a view, where a
    # mask had copied most of a 26M-line frame (3.3 GB for 门诊 + 购药)
    lrank = rank[ci]
    if lrank.size and (np.diff(lrank) < 0).any():
        order = np.argsort(lrank, kind="stable")
        ci = ci[order]
        items = {c: v[order] for c, v in items.items()}  # numpy arrays and categoricals alike
        del order
    del lrank, rank
    release_memory()
    # one row per item line; every string column a categorical (codes + sorted categories), so
    # the frame holds small integers instead of 3M Python / Arrow strings per column
    cols: dict[str, Any] = {"claim_id": _take(cctx.pop("claim_id"), ci)}
    cols.update((c, items.pop(c)) for c in icols[1:])
    cols["ci"] = ci
    for c in ("patient_id", "claim_type", "provider_type", "provider_id", "doctor_id", "start", "end", "sday",
              "eday", "month", "diagnosis_code", "level", "sex", "age", "insurance_type", "fund_ratio", "los"):
        col = cctx.pop(c)  # each claim column freed once taken
        cols[c] = _take(col, ci) if isinstance(col, pd.Categorical) else col[ci]
    del cctx
    df = pd.DataFrame(cols, copy=False)  # one block per column: no consolidation copy
    if present.get("item_time"):
        iday = _days(df["item_time"])
        df["iday"] = np.where(iday >= 0, iday, df["sday"].to_numpy()).astype(np.int32)
    else:
        df["iday"] = df["sday"].to_numpy()
    for c in df.columns:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            _drop_hash_table(df[c].cat.categories)
    return ItemFrame(df, present)


def _claim_context(store: Store) -> tuple[dict[str, Any], pa.Array, np.ndarray]:
    """Per claim, the columns the item lines take (categoricals and compact numbers), the claim
    ids as one Arrow array (to find each line's claim) and each claim's setting rank; the claims
    table itself is not kept."""
    cl = store.table("claims", ["claim_id", "patient_id", "claim_type", "institution_id", "pharmacy_id", "doctor_id",
                                "start_time", "end_time", "diagnosis_code", "total_amount", "fund_amount"])
    pt = store.table("patients", ["patient_id", "sex", "birth_date", "insurance_type"])
    inst = store.table("institutions", ["institution_id", "level"])
    cl = cl.reset_index(drop=True)
    claim_ids = pa.array(cl["claim_id"].array, type=pa.large_string())
    rank = _setting_rank(cl["claim_type"])
    ph = cl["pharmacy_id"].notna().to_numpy()
    ptype = pd.Categorical.from_codes(ph.astype(np.int32), categories=["institution", "pharmacy"]).remove_unused_categories()
    pid = cl["institution_id"].where(cl["institution_id"].notna(), cl["pharmacy_id"])
    irow = _lookup(cl["institution_id"], inst["institution_id"])
    lvl = np.where(irow >= 0, inst["level"].to_numpy("float64", na_value=np.nan)[np.maximum(irow, 0)], np.nan)
    pidx = _lookup(cl["patient_id"], pt["patient_id"])
    birth = pt["birth_date"].to_numpy("datetime64[D]")[np.maximum(pidx, 0)]
    start = cl["start_time"]
    sd = start.to_numpy("datetime64[D]")
    # whole years at the claim (birthday reached or not)
    by = birth.astype("datetime64[Y]").astype(int)
    sy = sd.astype("datetime64[Y]").astype(int)
    bmd = (birth - birth.astype("datetime64[Y]")).astype(int)
    smd = (sd - sd.astype("datetime64[Y]")).astype(int)
    age = (sy - by - (smd < bmd)).astype("float32")  # whole years: exact in float32
    age[(pidx < 0) | np.isnat(birth)] = np.nan
    del by, sy, bmd, smd, sd, birth
    sday = _days(start)
    eday = _days(cl["end_time"])
    los = np.where(eday >= 0, np.maximum(eday - sday, 1), 1)
    tot = cl["total_amount"].to_numpy("float64")
    fund = cl["fund_amount"].to_numpy("float64")
    ratio = np.divide(fund, tot, out=np.ones_like(tot), where=tot > 0)
    cctx: dict[str, Any] = {
        "claim_id": _cat(cl["claim_id"]),
        "patient_id": _cat(cl["patient_id"]),
        "claim_type": _cat(cl["claim_type"]),
        "provider_type": ptype, "provider_id": _cat(pid),
        "doctor_id": _cat(cl["doctor_id"]),
        "start": start.to_numpy(), "end": cl["end_time"].to_numpy(),
        "sday": sday.astype(np.int32), "eday": eday.astype(np.int32),
        "month": _months(start),
        "diagnosis_code": _cat(cl["diagnosis_code"]),
        "level": lvl.astype(np.float32), "sex": _rows_of(_cat(pt["sex"]), pidx), "age": age,
        "insurance_type": _rows_of(_cat(pt["insurance_type"]), pidx),
        "fund_ratio": ratio, "los": los.astype(np.int32),
    }
    return cctx, claim_ids, rank
