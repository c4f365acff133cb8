"""The store interface on Neo4j: tables read back through Cypher, projections computed
server-side by the files in ``cypher/projections/``.

Projections without a Cypher version fall back to the pandas implementation over
:meth:`Neo4jStore.table` (correct, but it pulls the rows it needs across the wire);
:data:`SERVER_SIDE` lists the ones computed in the database.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

import pandas as pd

from ..errors import StoreError
from ..schema import TABLES
from ..store.base import Store
from ..store.embedded import DTYPES
from .model import CONTACT_RELS, snake
from .runner import Connection

__all__ = ["Neo4jStore", "SERVER_SIDE"]

_REL_KIND = {rel: kind for kind, (_, rel) in CONTACT_RELS.items()}


def _to_py_time(v: Any) -> Any:
    if v is None:
        return None
    if hasattr(v, "to_native"):
        v = v.to_native()
    if hasattr(v, "tzinfo") and getattr(v, "tzinfo", None) is not None:
        v = v.replace(tzinfo=None)
    return v


def _column(s: pd.Series, typ: str) -> pd.Series:
    """Values read over Bolt → the store's dtype for a schema column type."""
    if typ in ("date", "datetime"):
        t = pd.to_datetime(s.map(_to_py_time)).astype("datetime64[s]")
        return t.dt.floor("D") if typ == "date" else t
    if typ == "decimal":
        return pd.to_numeric(s).astype("float64")
    return s.astype(object).where(s.notna(), None).astype(DTYPES[typ])


def _frame(records: list[dict[str, Any]], table: str) -> pd.DataFrame:
    """Records with a ``props`` map (camelCase) plus reference columns → a typed bundle table."""
    spec = TABLES[table]
    rows = []
    for r in records:
        row = {k: v for k, v in r.items() if k != "props"}
        for k, v in (r.get("props") or {}).items():
            row[snake(k) if snake(k) in spec.column_names else k] = v
        rows.append(row)
    df = pd.DataFrame(rows)
    out = {}
    for col in spec.columns:
        s = df[col.name] if col.name in df.columns else pd.Series([None] * len(df), dtype=object)
        out[col.name] = _column(s, col.type)
    keys = ("item_key", "itemKey", "budget_key", "budgetKey")  # synthesised node keys, not bundle columns
    extras = [c for c in df.columns if c not in spec.column_names and c not in keys]
    for c in extras:
        s = df[c]
        non_null = s.dropna()
        if len(non_null) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in non_null):
            out[c] = s.astype("float64")
        elif len(non_null) and all(isinstance(x, bool) for x in non_null):
            out[c] = s.astype("boolean")
        else:
            out[c] = s.astype(object).where(s.notna(), None).astype("string")
    return pd.DataFrame(out, index=range(len(df)))


class Neo4jStore(Store):
    """A graph in Neo4j (or a Bolt-compatible server) loaded by ``graphkit load --neo4j``.

    Examples
    --------
    >>> from graphkit.neo4jstore import Neo4jStore, connection_from_env   # doctest: +SKIP
    >>> store = Neo4jStore(connection_from_env())                          # doctest: +SKIP
    >>> store.row_counts()["claims"]                                       # doctest: +SKIP
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        meta = conn.read("meta/read_meta")
        if not meta:
            raise StoreError(f"no graphkit data in {conn.uri} (database {conn.database}); run `graphkit load --neo4j` first")
        self.fingerprint = meta[0]["fingerprint"]
        self.manifest = json.loads(meta[0]["manifest"] or "{}")
        self._cache: dict[str, pd.DataFrame] = {}

    def has_table(self, name: str) -> bool:
        return self.row_counts().get(name, 0) > 0

    def row_counts(self) -> dict[str, int]:
        from .loader import _counts

        counts = _counts(self.conn)
        counts["contacts"] = len(self._contacts())
        return counts

    def columns(self, name: str) -> list[str]:
        return list(self.table(name).columns)

    def _contacts(self) -> pd.DataFrame:
        recs = self.conn.read("read/contacts")
        df = pd.DataFrame(recs, columns=["patient_id", "rel", "value"])
        out = pd.DataFrame(
            {
                "patient_id": df["patient_id"].astype("string"),
                "kind": df["rel"].map(_REL_KIND).astype("string"),
                "value": df["value"].astype("string"),
            }
        )
        return out.sort_values(["patient_id", "kind", "value"], kind="stable").reset_index(drop=True)

    def table(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        if name not in TABLES:
            raise StoreError(f"unknown table {name!r}")
        if name not in self._cache:
            if name == "contacts":
                df = self._contacts()
            else:
                df = _frame(self.conn.read(f"read/{name}"), name)
                if name == "claim_items":
                    df = df.sort_values(["claim_id", "item_code"], kind="stable").reset_index(drop=True)
            self._cache[name] = df
        df = self._cache[name]
        if columns is None:
            return df
        missing = [c for c in columns if c not in df.columns]
        out = df[[c for c in columns if c in df.columns]].copy()
        for c in missing:
            out[c] = pd.Series(pd.NA, index=out.index, dtype="string")
        return out[list(columns)]

    def claims_by_id(self, claim_ids: Iterable[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
        ids = sorted(set(map(str, claim_ids)))
        df = _frame(self.conn.read("read/claims_by_id", ids=ids), "claims") if ids else _frame([], "claims")
        cols = None if columns is None else list(dict.fromkeys(["claim_id", *columns]))
        return df if cols is None else df[cols]

    # -- server-side projections -------------------------------------------------------
    def projection(self, name: str, **params: Any) -> pd.DataFrame:
        fn = SERVER_SIDE.get(name)
        if fn is None:
            return super().projection(name, **params)
        return fn(self, **params)


def _typed(df: pd.DataFrame, times: Sequence[str] = (), dates: Sequence[str] = (), floats: Sequence[str] = ()) -> pd.DataFrame:
    for c in df.columns:
        df[c] = _column(df[c], "datetime" if c in times else "date" if c in dates else "decimal" if c in floats else "str")
    return df


def _foreign_card_use(store: Neo4jStore) -> pd.DataFrame:
    cols = ["claim_id", "card_id", "holder_id", "patient_id", "start_time", "fund_amount", "doctor_id", "provider_type", "provider_id"]
    df = pd.DataFrame(store.conn.read("projections/foreign_card_use"), columns=cols)
    return _typed(df, times=["start_time"], floats=["fund_amount"])


def _replaced_card_use(store: Neo4jStore, *, grace_days: int = 1) -> pd.DataFrame:
    cols = ["claim_id", "card_id", "patient_id", "holder_id", "start_time", "fund_amount", "doctor_id", "replaced_on", "provider_type", "provider_id"]
    df = pd.DataFrame(store.conn.read("projections/replaced_card_use", graceDays=int(grace_days)), columns=cols)
    return _typed(df, times=["start_time"], dates=["replaced_on"], floats=["fund_amount"])


def _post_death_claims(store: Neo4jStore, *, grace_days: int = 0) -> pd.DataFrame:
    cols = ["claim_id", "card_id", "patient_id", "claim_type", "start_time", "fund_amount", "doctor_id", "deceased_id", "death_date", "via", "provider_type", "provider_id"]
    df = pd.DataFrame(store.conn.read("projections/post_death_claims", graceDays=int(grace_days)), columns=cols)
    return _typed(df, times=["start_time"], dates=["death_date"], floats=["fund_amount"])


def _family_groups(store: Neo4jStore) -> pd.DataFrame:
    from ..projections import family_components

    edges = pd.DataFrame(store.conn.read("projections/family_edges"), columns=["a", "b"])
    return family_components(edges["a"], edges["b"])


def _travel_pairs(store: Neo4jStore, *, max_gap_hours: float = 24.0, by: str = "card_id",
                  region_km_province: float = 300.0, region_km_prefecture: float = 80.0) -> pd.DataFrame:
    from ..projections import _provider_places, pair_distances

    q = "projections/travel_pairs_card" if by == "card_id" else "projections/travel_pairs_patient"
    cols = ["key", "claim_a", "claim_b", "card_a", "card_b", "patient_a", "patient_b", "time_a", "time_b",
            "provider_a", "provider_b", "fund_a", "fund_b"]
    df = pd.DataFrame(store.conn.read(q, maxGapSeconds=int(max_gap_hours * 3600)), columns=cols)
    df = _typed(df, times=["time_a", "time_b"], floats=["fund_a", "fund_b"])
    df["gap_hours"] = (df["time_b"] - df["time_a"]).dt.total_seconds().astype("float64") / 3600.0
    return pair_distances(df, _provider_places(store), region_km_province, region_km_prefecture)


def _inpatient_admissions(store: Neo4jStore) -> pd.DataFrame:
    cols = ["claim_id", "patient_id", "institution_id", "doctor_id", "start_time", "end_time", "diagnosis_code", "fund_amount"]
    df = pd.DataFrame(store.conn.read("projections/inpatient_admissions"), columns=cols)
    return _typed(df, times=["start_time", "end_time"], floats=["fund_amount"])


def _provider_activity(store: Neo4jStore) -> pd.DataFrame:
    cols = ["provider_type", "provider_id", "mode", "first_day", "last_day", "open_days"]
    df = pd.DataFrame(store.conn.read("projections/provider_activity"), columns=cols)
    df["provider_id"] = df["provider_id"].astype("string")
    epoch = pd.Timestamp("1970-01-01")
    for c in ("first_day", "last_day"):  # day numbers, as the embedded projection counts them
        df[c] = ((pd.to_datetime(df[c].map(_to_py_time)) - epoch).dt.days).astype("int64")
    df["open_days"] = df["open_days"].astype("int64")
    return df


#: projection name -> server-side implementation
SERVER_SIDE = {
    "inpatient_admissions": _inpatient_admissions,
    "provider_activity": _provider_activity,
    "foreign_card_use": _foreign_card_use,
    "replaced_card_use": _replaced_card_use,
    "post_death_claims": _post_death_claims,
    "family_groups": _family_groups,
    "travel_pairs": _travel_pairs,
}
