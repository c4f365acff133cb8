"""Typing and checking column values: text to typed columns (dates, amounts, booleans,
enums), money with at most two decimals, and ids free of control characters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphkit._fast import arrow_strings, string_series

_TRUE = {"true", "t", "1", "yes", "y", "是"}
_FALSE = {"false", "f", "0", "no", "n", "否"}
_MIN_TS = pd.Timestamp("1900-01-01")
_MAX_TS = pd.Timestamp("2100-01-01")
#: a UTC offset after a time of day ("…09:41:00+08:00", "…09:41Z"); group 1 is what stays
_TZ_SUFFIX = r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def _strings(s: pd.Series) -> pd.Series:
    """``s`` as an Arrow-backed ``string`` series (no copy when it already is one)."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        return s
    return s.astype("string")


def _stripped(s: pd.Series) -> pa.Array:
    return pc.utf8_trim_whitespace(arrow_strings(_strings(s)))


def _typed_column(s: pd.Series, typ: str, extra: dict[str, Any] | None = None) -> tuple[pd.Series, np.ndarray, str | None]:
    """Convert a raw column to its schema type; return (typed, bad-mask, rule).

    ``extra``: receives ``"unrounded"``, a decimal column's values before rounding to the fen.

    Arrow parses the common forms (ISO datetimes, plain decimals) in one pass; a chunk
    holding anything else falls back to pandas' more forgiving parsers, so what is accepted
    never depends on chunking.
    """
    present = s.notna().to_numpy()
    if typ == "str":
        arr = _stripped(s)
        empty = pc.equal(arr, "")
        if pc.any(empty).as_py():
            arr = pc.if_else(empty, pa.scalar(None, pa.large_string()), arr)
        return string_series(arr, s.index), np.zeros(len(s), bool), None
    if typ in ("date", "datetime"):
        out = None
        if pd.api.types.is_datetime64_any_dtype(s):
            out = s
        else:
            arr = _stripped(s)
            try:
                ts = pc.cast(arr, pa.timestamp("s"))
                out = pd.Series(ts.to_numpy(zero_copy_only=False), index=s.index)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raw = string_series(arr, s.index)
                try:
                    out = pd.to_datetime(raw, format="ISO8601", errors="coerce")
                except ValueError:  # mixed UTC offsets (e.g. "+08:00" beside naive): keep the wall-clock time
                    raw = raw.str.replace(_TZ_SUFFIX, r"\1", regex=True)
                    out = pd.to_datetime(raw, format="ISO8601", errors="coerce")
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        bad = present & out.isna().to_numpy()
        rule = "bad_date" if typ == "date" else "bad_datetime"
        if out.dtype != "datetime64[s]":
            out = out.astype("datetime64[s]")  # the 1900–2100 range is checked by _check_rows
        if typ == "date":
            out = out.dt.floor("D")
        return out, bad, rule
    if typ in ("decimal", "int", "float"):
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            vals = s.to_numpy("float64", na_value=np.nan)
        else:
            arr = _stripped(s)
            try:
                vals = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                vals = pd.to_numeric(string_series(arr, s.index), errors="coerce").astype("float64").to_numpy("float64", na_value=np.nan)
            vals = vals + 0.0  # "-0" and "-0.00" are plain zero, whichever parser read them
        out = pd.Series(vals, index=s.index, dtype="float64")
        bad = present & ~np.isfinite(vals)
        if typ == "int":
            bad |= present & np.isfinite(vals) & (np.round(vals) != vals)
            return out.round().astype("Int64"), bad, "bad_int"
        if typ == "float":  # a measurement (coordinate): kept as given, not rounded like money
            return out, bad, "bad_number"
        if extra is not None:
            extra["unrounded"] = vals
        return out.round(2), bad, "bad_number"
    if typ == "bool":
        if pd.api.types.is_bool_dtype(s):
            return s.astype("boolean"), np.zeros(len(s), bool), None
        low = _strings(s).str.strip().str.lower()
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        out[low.isin(_TRUE).fillna(False).to_numpy(bool)] = True
        out[low.isin(_FALSE).fillna(False).to_numpy(bool)] = False
        bad = present & out.isna().to_numpy()
        return out, bad, "bad_bool"
    raise ValueError(f"unknown column type {typ!r}")


def _normalise_enum(s: pd.Series, enum: tuple[str, ...]) -> pd.Series:
    if all(e == e.lower() for e in enum):
        return s.str.lower()
    if all(e == e.upper() for e in enum):
        return s.str.upper()
    return s


#: money columns (yuan, at most 2 decimals). Not ``unit_price`` (tariff catalogues price a tablet
#: to the 0.0001 yuan) nor ``quantity``; coordinates are ``float``.
AMOUNT_COLUMNS = frozenset({"total_amount", "fund_amount", "self_amount", "amount"})


def _excess_decimals(vals: np.ndarray) -> np.ndarray:
    """Values that are not a whole number of fen (beyond float noise).

    >>> _excess_decimals(np.array([100.0, 0.1, 12345678.91, 100.001, 0.005, np.nan])).tolist()
    [False, False, False, True, True, False]
    """
    with np.errstate(invalid="ignore"):
        off = np.abs(vals - np.round(vals, 2))
        return np.isfinite(vals) & (off > 1e-9 + np.abs(vals) * 1e-13)


_CONTROL = "[\x00-\x1f\x7f\u2028\u2029]"


def _bad_ids(typed: pd.Series) -> np.ndarray:
    """Ids holding control characters (NUL, newline, tab, …) or an odd number of ``"`` or ``'``.

    >>> _bad_ids(pd.Series(["C1", "C1\\x00", 'C1"', "O'Neil's", "a\\nb", None], dtype="string")).tolist()
    [False, True, True, False, True, False]
    """
    arr = arrow_strings(_strings(typed))
    ctrl = pc.match_substring_regex(arr, _CONTROL)
    dq = pc.bit_wise_and(pc.count_substring(arr, '"'), 1)
    sq = pc.bit_wise_and(pc.count_substring(arr, "'"), 1)
    odd = pc.or_(pc.equal(dq, 1), pc.equal(sq, 1))
    return pc.fill_null(pc.or_(ctrl, odd), False).to_numpy(zero_copy_only=False)


def _shown(values: pd.Series) -> np.ndarray:
    """Ids as a report shows them: control characters written as escapes (\\x00, \\n)."""
    import re

    esc = re.compile(_CONTROL)
    return np.array([esc.sub(lambda m: f"\\x{ord(m.group()):02x}", v) for v in values.astype(str)], dtype=object)
