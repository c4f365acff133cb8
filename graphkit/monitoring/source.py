"""Reading the data source of the supervision routines: a store or a ``{table: DataFrame}``
mapping, read typed like the store (absent tables and columns count as empty), providers,
months as numbers, per-provider complaint and violation counts, the audit log to record in,
and :class:`MonitoringError` for missing or inconsistent input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..audit import AuditLog, default_log
from ..errors import GraphkitError, ParameterError
from ..schema import TABLES
from .constants import _PROVIDER_COLS

__all__ = ["MonitoringError"]


class MonitoringError(GraphkitError):
    """Monitoring input is missing or inconsistent (no budgets, unknown provider ids …)."""


def _is_store(source: Any) -> bool:
    return hasattr(source, "table") and not isinstance(source, Mapping)


def _columns(source: Any, name: str) -> list[str]:
    if _is_store(source):
        return list(source.columns(name)) if source.has_table(name) else []
    df = source.get(name)
    return [] if df is None else list(df.columns)


def _has(source: Any, name: str) -> bool:
    return source.has_table(name) if _is_store(source) else source.get(name) is not None


def _table(source: Any, name: str, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` of table ``name`` typed like the store (absent table/column → empty/NA)."""
    if _is_store(source):
        return source.table(name, list(columns)).copy()
    df = source.get(name)
    if df is None:
        df = pd.DataFrame(index=range(0))
    spec = TABLES.get(name)
    out = {}
    for c in columns:
        typ = spec.column(c).type if spec is not None and c in spec.column_names else None
        s = df[c] if c in df.columns else pd.Series([None] * len(df), index=df.index, dtype="object")
        if typ in ("date", "datetime"):
            s = pd.to_datetime(s, format="ISO8601")
        elif typ in ("decimal", "float"):
            s = pd.to_numeric(s).astype("float64")
        elif typ == "int":
            s = pd.to_numeric(s).astype("Int64")
        elif typ == "bool":
            s = s.astype("boolean")
        elif typ == "str":
            s = s.astype("string")
        out[c] = s
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def _providers(source: Any) -> pd.DataFrame:
    inst = _table(source, "institutions", ["institution_id"])["institution_id"]
    ph = _table(source, "pharmacies", ["pharmacy_id"])["pharmacy_id"] if _has(source, "pharmacies") else pd.Series([], dtype="string")
    return pd.concat([
        pd.DataFrame({"provider_type": "institution", "provider_id": inst.astype("string")}),
        pd.DataFrame({"provider_type": "pharmacy", "provider_id": ph.astype("string")}),
    ], ignore_index=True).astype({"provider_type": "string"}).dropna().drop_duplicates().sort_values(
        _PROVIDER_COLS, kind="stable").reset_index(drop=True)


def _with_provider(claims: pd.DataFrame) -> pd.DataFrame:
    is_inst = claims["institution_id"].notna()
    claims["provider_type"] = pd.Series(np.where(is_inst, "institution", "pharmacy"), index=claims.index, dtype="string")
    claims["provider_id"] = claims["institution_id"].where(is_inst, claims["pharmacy_id"]).astype("string")
    return claims


def _ym(ts: pd.Series) -> pd.Series:
    """Month number (year × 12 + month − 1) of datetimes."""
    return ts.dt.year.astype("int64") * 12 + ts.dt.month.astype("int64") - 1


def _ym_str(m: int | np.integer) -> str:
    m = int(m)
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


def _parse_ym(text: str) -> int:
    try:
        ts = pd.Timestamp(str(text)[:7] + "-01")
    except ValueError:
        raise ParameterError(f"month must be 'YYYY-MM'; got {text!r}") from None
    return ts.year * 12 + ts.month - 1


def _fingerprint(source: Any) -> str | None:
    return getattr(source, "fingerprint", None) if _is_store(source) else None


def _log(log: AuditLog | None) -> AuditLog:
    return log if log is not None else default_log()


def _count_by_provider(df: pd.DataFrame | None, what: str, year: int | None = None) -> pd.DataFrame:
    """Complaints/violations per provider: each row counts 1, or ``count`` when that column exists."""
    cols = [*_PROVIDER_COLS, what]
    if df is None or len(df) == 0:
        return pd.DataFrame({c: pd.Series([], dtype="string" if c != what else "float64") for c in cols})
    if "provider_id" not in df.columns:
        raise MonitoringError(f"{what}: a provider_id column is required; got columns {list(df.columns)}")
    d = df.copy()
    if year is not None and "year" in d.columns:
        d = d[pd.to_numeric(d["year"]) == year]
    d["provider_id"] = d["provider_id"].astype("string")
    n = pd.to_numeric(d["count"]).astype("float64") if "count" in d.columns else pd.Series(1.0, index=d.index)
    d = d.assign(_n=n)
    if "provider_type" not in d.columns:
        d["provider_type"] = pd.NA
    d["provider_type"] = d["provider_type"].astype("string")
    out = d.groupby(["provider_type", "provider_id"], dropna=False)["_n"].sum().rename(what).reset_index()
    return out


def _attach_counts(pop: pd.DataFrame, counts: pd.DataFrame, what: str) -> pd.Series:
    """Counts per population row; rows without provider_type match on provider_id alone."""
    typed = counts[counts["provider_type"].notna()]
    untyped = counts[counts["provider_type"].isna()].groupby("provider_id")[what].sum()
    tv = pd.Series(typed[what].to_numpy(dtype="float64"),
                   index=pd.MultiIndex.from_frame(typed[_PROVIDER_COLS].astype(str)) if len(typed) else None,
                   dtype="float64")
    key = pd.MultiIndex.from_frame(pop[_PROVIDER_COLS].astype(str))
    v = pd.Series(tv.reindex(key).to_numpy(dtype="float64") if len(tv) else np.zeros(len(pop)), index=pop.index)
    u = pop["provider_id"].astype(str).map(untyped.rename(index=str)).astype("float64")
    return v.fillna(0.0) + u.fillna(0.0)


def _empty(cols: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in cols})
