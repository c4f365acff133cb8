"""Small vectorised helpers where pandas' generic path is slow on string columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["isin"]


def _arrow(values: Any) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    s = pd.Series(values) if not isinstance(values, (pd.Series, pd.Index)) else values
    if not (pd.api.types.is_string_dtype(s.dtype) or s.dtype == object):
        return pa.array(np.asarray(s))
    try:
        return pa.array(s, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(s.astype("string"), type=pa.string(), from_pandas=True)


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
