"""Sorted runs of the fact tables and their streaming k-way merge: the store keeps every table
in primary-key order (stable: equal keys keep bundle order).

Examples
--------
>>> import pyarrow as pa
>>> runs = [iter([pa.table({"claim_id": ["C1", "C3"]})]), iter([pa.table({"claim_id": ["C2"]})])]
>>> [v for t in merge_sorted(runs, ["claim_id"]) for v in t["claim_id"].to_pylist()]
['C1', 'C2', 'C3']
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphkit.schema import TABLES

__all__ = ["merge_sorted"]


def _sort_keys(table: str) -> list[str]:
    """The store keeps every table in this key order (stable: equal keys keep bundle order)."""
    return list(TABLES[table].primary_key) or ["claim_id", "item_code"]


#: Arrow type of each schema column type as the store writes it
_ARROW: dict[str, pa.DataType] = {
    "str": pa.large_string(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "date": pa.timestamp("s"),
    "datetime": pa.timestamp("s"),
    "decimal": pa.float64(),
    "float": pa.float64(),
}


def _extra_type(t: pa.DataType | None) -> pa.DataType:
    """Arrow type of an extra (non-spec) column, from its type in the bundle file."""
    if t is None or pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return pa.large_string()
    if pa.types.is_integer(t):
        return pa.int64()
    return t


def _less(tbl: pa.Table, keys: list[str], bound: tuple) -> np.ndarray:
    """Rows of ``tbl`` whose key tuple is below ``bound``."""
    a = tbl.column(keys[0])
    out = pc.less(a, bound[0])
    if len(keys) > 1:
        out = pc.or_(out, pc.and_(pc.equal(a, bound[0]), pc.less(tbl.column(keys[1]), bound[1])))
    return np.asarray(out.to_numpy(zero_copy_only=False), bool)


def _key_at(tbl: pa.Table, keys: list[str], i: int) -> tuple:
    return tuple(tbl.column(k)[i].as_py() for k in keys)


def _is_sorted(tbl: pa.Table, keys: list[str]) -> bool:
    if tbl.num_rows < 2:
        return True
    a = tbl.column(keys[0])
    lo, hi = a.slice(0, tbl.num_rows - 1), a.slice(1)
    if len(keys) == 1:
        return bool(pc.all(pc.less_equal(lo, hi)).as_py())
    b = tbl.column(keys[1])
    ok = pc.or_(pc.less(lo, hi), pc.and_(pc.equal(lo, hi), pc.less_equal(b.slice(0, tbl.num_rows - 1), b.slice(1))))
    return bool(pc.all(ok).as_py())


def _sort_order(tbl: pa.Table, keys: list[str]) -> np.ndarray:
    """Stable sort order of ``tbl`` by ``keys``. When the first key is already in order (items
    of a claims export usually are, by claim), only the runs of equal first keys are sorted:
    integer codes instead of string comparisons."""
    a = tbl.column(keys[0])
    n = tbl.num_rows
    if len(keys) == 2 and n > 1 and bool(pc.all(pc.less_equal(a.slice(0, n - 1), a.slice(1))).as_py()):
        group = np.zeros(n, np.int64)
        group[1:] = np.cumsum(np.asarray(pc.not_equal(a.slice(0, n - 1), a.slice(1)).to_numpy(zero_copy_only=False), bool))
        enc = pc.dictionary_encode(tbl.column(keys[1])).combine_chunks()
        rank = np.empty(len(enc.dictionary), np.int64)
        rank[np.asarray(pc.sort_indices(enc.dictionary).to_numpy())] = np.arange(len(enc.dictionary))
        codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False)).astype(np.int64)
        return np.argsort(group * len(rank) + rank[codes], kind="stable")
    return np.asarray(pc.sort_indices(tbl, sort_keys=[(k, "ascending") for k in keys]).to_numpy())


def _sorted(tbl: pa.Table, keys: list[str]) -> pa.Table:
    return tbl.take(pa.array(_sort_order(tbl, keys)))


def merge_sorted(streams: list[Iterator[pa.Table]], keys: list[str]) -> Iterator[pa.Table]:
    """Merge streams of tables, each sorted by ``keys``, into one sorted stream (stable: on equal
    keys an earlier stream comes first). Holds about one batch per stream.

    >>> s1 = iter([pa.table({"k": ["a", "c"]}), pa.table({"k": ["e"]})])
    >>> s2 = iter([pa.table({"k": ["b", "d"]})])
    >>> [v for t in merge_sorted([s1, s2], ["k"]) for v in t.column("k").to_pylist()]
    ['a', 'b', 'c', 'd', 'e']
    """
    k = len(streams)
    bufs: list[pa.Table | None] = [None] * k
    done = [False] * k

    def pull(i: int) -> None:
        nxt = next(streams[i], None)
        if nxt is None:
            done[i] = True
        elif bufs[i] is None or bufs[i].num_rows == 0:
            bufs[i] = nxt
        else:
            bufs[i] = pa.concat_tables([bufs[i], nxt])

    def fill(i: int) -> None:
        while not done[i] and (bufs[i] is None or bufs[i].num_rows == 0):
            pull(i)

    for i in range(k):
        fill(i)
    while True:
        live = [i for i in range(k) if bufs[i] is not None and bufs[i].num_rows]
        if not live:
            return
        open_ = [i for i in live if not done[i]]
        if not open_:  # everything left is buffered
            parts = [bufs[i] for i in live]
            out = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
            yield _sorted(out, keys) if len(parts) > 1 else out
            return
        last = {i: _key_at(bufs[i], keys, bufs[i].num_rows - 1) for i in open_}
        bound_i = min(open_, key=lambda i: last[i])
        bound = last[bound_i]
        parts = []
        for i in live:
            m = int(_less(bufs[i], keys, bound).sum())
            if m:
                parts.append(bufs[i].slice(0, m))
                bufs[i] = bufs[i].slice(m)
        if parts:
            out = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
            yield _sorted(out, keys) if len(parts) > 1 else out
        else:  # the bounding stream's buffer holds only its last key: read on
            pull(bound_i)
        for i in live:
            fill(i)
