"""What a bundle supports: time precision, terminals, doctors, items, places (the *data profile*).

Detectors must never reason at a finer precision than the data holds ("0 minutes apart" from
two dates). This module measures it.

Time precision of a datetime column is the finest unit the export really carries:

* ``second`` when at least half the values have a non-zero second,
* ``minute`` when at least half have a non-zero minute or second,
* ``hour`` when at least half are not at midnight,
* ``day`` otherwise (dates only, or every time at 00:00:00).

Half is far below what true times show (59/60 of second-precision times have a non-zero
second) and far above what coarse times show (none), so mixtures are classed by their
majority. Rows exactly at midnight in a column of finer precision are counted apart
(``midnight_share``): when they are far more common than chance (≥ 0.5 %), they are
rows exported with a date only, and :func:`row_uncertainty` gives them a day.

Examples
--------
>>> import pandas as pd
>>> time_precision(pd.Series(pd.to_datetime(["2024-03-05", "2024-03-06"])))
'day'
>>> time_precision(pd.Series(pd.to_datetime(["2024-03-05 09:00", "2024-03-06 14:00"])))
'hour'
>>> time_precision(pd.Series(pd.to_datetime(["2024-03-05 09:41:07", "2024-03-06 14:02:33"])))
'second'
>>> PRECISION_SECONDS["hour"]
3600
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PRECISIONS",
    "PRECISION_SECONDS",
    "time_precision",
    "time_profile",
    "row_uncertainty",
    "finer_or_equal",
]

PRECISIONS = ("second", "minute", "hour", "day")
PRECISION_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_MIDNIGHT_DATE_ONLY = 0.005  # midnight rows above this share are date-only exports


def _seconds_of_day(times: pd.Series) -> np.ndarray:
    t = pd.to_datetime(times).dropna()
    if t.empty:
        return np.zeros(0, dtype="int64")
    ns = t.to_numpy("datetime64[s]").astype("int64")
    return np.mod(ns, 86400)


def time_profile(times: pd.Series) -> dict[str, Any]:
    """Precision of a datetime column plus the shares it was decided on.

    >>> import pandas as pd
    >>> p = time_profile(pd.Series(pd.to_datetime(["2024-01-01 08:30:00", "2024-01-02 00:00:00"])))
    >>> p["precision"], p["rows"]
    ('minute', 2)
    """
    sod = _seconds_of_day(times)
    n = int(sod.size)
    if n == 0:
        return {"precision": None, "rows": 0, "share_nonzero_second": None, "share_nonzero_minute": None,
                "share_not_midnight": None, "midnight_share": None}
    sec = float(np.mean(sod % 60 != 0))
    minute = float(np.mean(sod % 3600 != 0))
    not_mid = float(np.mean(sod != 0))
    if sec >= 0.5:
        prec = "second"
    elif minute >= 0.5:
        prec = "minute"
    elif not_mid >= 0.5:
        prec = "hour"
    else:
        prec = "day"
    return {"precision": prec, "rows": n, "share_nonzero_second": round(sec, 6),
            "share_nonzero_minute": round(minute, 6), "share_not_midnight": round(not_mid, 6),
            "midnight_share": round(1.0 - not_mid, 6)}


def time_precision(times: pd.Series) -> str | None:
    """The finest unit ``times`` really carries: ``second``, ``minute``, ``hour`` or ``day``
    (None when empty). See the module docstring."""
    return time_profile(times)["precision"]


def row_uncertainty(times: pd.Series, precision: str | None = None) -> np.ndarray:
    """Seconds of uncertainty of each value (a time known to the hour may be up to 3,600 s later).

    Rows at exactly midnight get a whole day when midnight rows are far more common than chance
    (date-only rows mixed into a finer column).

    >>> import pandas as pd
    >>> s = pd.Series(pd.to_datetime(["2024-01-01 08:30:15", "2024-01-02 00:00:00", "2024-01-02 10:01:02"]))
    >>> row_uncertainty(s).tolist()
    [1, 86400, 1]
    """
    prof = time_profile(times)
    prec = precision or prof["precision"] or "day"
    out = np.full(len(times), PRECISION_SECONDS[prec], dtype="int64")
    if prec != "day" and prof["rows"] and (prof["midnight_share"] or 0.0) >= _MIDNIGHT_DATE_ONLY:
        t = pd.to_datetime(times)
        ns = t.to_numpy("datetime64[s]").astype("int64")
        midnight = (np.mod(ns, 86400) == 0) & t.notna().to_numpy()
        out[midnight] = PRECISION_SECONDS["day"]
    return out


def finer_or_equal(have: str | None, need: str) -> bool:
    """True when precision ``have`` is at least as fine as ``need``.

    >>> finer_or_equal("minute", "hour"), finer_or_equal("day", "hour"), finer_or_equal(None, "day")
    (True, False, False)
    """
    if have is None:
        return False
    return PRECISION_SECONDS[have] <= PRECISION_SECONDS[need]
