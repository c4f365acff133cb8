"""Row filters for :meth:`graphkit.store.Store.table_where`: a small predicate language that a
store evaluates on pandas frames (the default) or on Arrow tables before any pandas conversion
(the embedded store), with the same result.

A filter is in disjunctive normal form, like ``pyarrow.parquet`` filters: a list of
alternatives (OR), each a list of conditions (AND); a flat list of conditions is one
alternative. A condition is ``(column, op, value)``:

* ``"=="`` / ``"!="``: equal / not equal to ``value``;
* ``"in"``: one of the values ``value`` (an iterable);
* ``"notnull"`` / ``"isnull"``: the column is (not) null (``value`` is ignored; a 2-tuple works).

A null never satisfies ``==``, ``!=`` or ``in`` (as ``(s == v).fillna(False)`` in pandas).

>>> df = pd.DataFrame({"t": pd.Series(["in", "out", None], dtype="string"), "h": pd.Series(["H1", None, "H2"], dtype="string")})
>>> where_mask(df, [("t", "==", "in"), ("h", "notnull")]).tolist()
[True, False, False]
>>> where_mask(df, [[("t", "==", "out")], [("h", "in", ["H2"])]]).tolist()
[False, True, True]
>>> where_mask(df, [("t", "!=", "in")]).tolist()
[False, True, False]
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["OPS", "normalize_where", "where_columns", "where_mask", "arrow_mask"]

#: the comparison operators a filter may use
OPS = ("==", "!=", "in", "notnull", "isnull")

Condition = tuple[str, str, Any]


def normalize_where(where: Any) -> list[list[Condition]]:
    """``where`` as a list of alternatives, each a list of ``(column, op, value)`` (``in`` values
    as a list without nulls); raises ``ValueError`` on an unknown operator or an empty filter.

    >>> normalize_where([("a", "notnull"), ("b", "in", {"x"})])
    [[('a', 'notnull', None), ('b', 'in', ['x'])]]
    """
    if not where:
        raise ValueError("an empty filter (read the whole table with table())")
    alts = [where] if isinstance(where[0], tuple) else where
    out = []
    for alt in alts:
        conds = []
        for cond in alt:
            col, op, value = (cond[0], cond[1], cond[2] if len(cond) > 2 else None)
            if op not in OPS:
                raise ValueError(f"unknown filter operator {op!r}; known: {OPS}")
            if op == "in":
                value = [v for v in pd.unique(pd.Series(list(value), dtype=object)) if not pd.isna(v)]
            conds.append((str(col), op, value))
        if not conds:
            raise ValueError("an empty alternative in a filter")
        out.append(conds)
    return out


def where_columns(where: Any) -> list[str]:
    """The columns a filter reads, in first-use order.

    >>> where_columns([[("a", "notnull")], [("b", "==", 1), ("a", "isnull")]])
    ['a', 'b']
    """
    return list(dict.fromkeys(c for alt in normalize_where(where) for c, _, _ in alt))


def _pandas_cond(s: pd.Series, op: str, value: Any) -> np.ndarray:
    valid = s.notna().to_numpy(bool)
    if op == "notnull":
        return valid
    if op == "isnull":
        return ~valid
    if op == "in":
        hit = s.isin(value)
    elif op == "==":
        hit = s == value
    else:
        hit = s != value
    return valid & hit.fillna(False).to_numpy(bool)


def where_mask(df: pd.DataFrame, where: Any) -> np.ndarray:
    """Boolean mask of the rows of ``df`` that match ``where`` (see the module docstring)."""
    out = np.zeros(len(df), bool)
    for alt in normalize_where(where):
        m = np.ones(len(df), bool)
        for col, op, value in alt:
            m &= _pandas_cond(df[col], op, value)
        out |= m
    return out


def _arrow_value_set(values: list, typ: pa.DataType) -> pa.Array:
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        values = [str(v) for v in values]
    return pa.array(values).cast(typ) if values else pa.array([], type=typ)


def arrow_mask(table: pa.Table, where: list[list[Condition]], value_sets: dict[int, pa.Array] | None = None) -> pa.Array:
    """Boolean Arrow mask (no nulls) of the rows of ``table`` that match a normalized filter;
    ``value_sets``: Arrow arrays of the ``in`` conditions by ``id(condition)``, built once by
    the caller (:func:`arrow_value_sets`) when a table is filtered piece by piece."""
    out = None
    for alt in where:
        m = None
        for cond in alt:
            col, op, value = cond
            arr = table.column(col)
            if op == "notnull":
                c = pc.is_valid(arr)
            elif op == "isnull":
                c = pc.is_null(arr)
            elif op == "in":
                vs = (value_sets or {}).get(id(cond))
                c = pc.is_in(arr, value_set=vs if vs is not None else _arrow_value_set(value, arr.type))
                c = pc.and_(c, pc.is_valid(arr))
            else:
                scalar = pa.scalar(str(value) if pa.types.is_string(arr.type) else value).cast(arr.type)
                c = (pc.equal if op == "==" else pc.not_equal)(arr, scalar)
            c = pc.fill_null(c, False)
            m = c if m is None else pc.and_(m, c)
        out = m if out is None else pc.or_(out, m)
    assert out is not None
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def arrow_value_sets(where: list[list[Condition]], schema: pa.Schema) -> dict[int, pa.Array]:
    """The Arrow value sets of a normalized filter's ``in`` conditions, typed like ``schema``."""
    return {id(cond): _arrow_value_set(cond[2], schema.field(cond[0]).type)
            for alt in where for cond in alt if cond[1] == "in"}


def columns_in(where: list[list[Condition]], present: Sequence[str]) -> bool:
    """True when every column a normalized filter reads is in ``present``."""
    return all(c in present for alt in where for c, _, _ in alt)
