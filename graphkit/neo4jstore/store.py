"""The store interface on Neo4j: tables read back through Cypher, projections computed
server-side by the files in ``cypher/projections/``.

Projections without a Cypher version fall back to the pandas implementation over
:meth:`Neo4jStore.table` (correct, but it pulls the rows it needs across the wire);
:data:`SERVER_SIDE` lists the ones computed in the database. A server-side projection does
the joins and aggregation in Cypher and may finish with a small vectorised step over the
rows it returned (totals, chain numbers, distances) — never over the claims table; its
result equals the pandas projection's (``tests/test_neo4j_projections.py``).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import StoreError
from ..schema import TABLES
from ..store.base import Store, with_claim_id
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
    if typ in ("decimal", "float"):
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
        self._counts: dict[str, int] | None = None
        #: claims per page when a detector reads some claim columns (see :meth:`table`)
        self.page_rows = 100_000

    def profile(self) -> dict[str, Any]:
        """The data profile kept in the meta node at load, else computed (once per object)."""
        stored = self.manifest.get("data_profile")
        if stored and stored.get("fingerprint") == self.fingerprint:
            return stored
        return super().profile()

    def has_table(self, name: str) -> bool:
        return self.row_counts().get(name, 0) > 0

    def row_counts(self) -> dict[str, int]:
        """Rows per table, counted once per store object (like the tables it caches)."""
        from .loader import _counts

        if self._counts is None:
            self._counts = _counts(self.conn)
        return dict(self._counts)

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
        spec_cols = columns is not None and all(c in TABLES[name].column_names for c in columns)
        if name == "claims" and name not in self._cache and spec_cols:
            return self._claim_columns(tuple(columns))  # type: ignore[arg-type]
        if name not in self._cache:
            if name == "contacts":
                df = self._contacts()
            else:
                df = _frame(self.conn.read(f"read/{name}"), name)
                if name == "claim_items":
                    df = _items_order(df)
            self._cache[name] = df
        return _select(self._cache[name], columns)

    def _claim_columns(self, columns: tuple[str, ...]) -> pd.DataFrame:
        """Spec columns of every claim. The claims are read once, page by page
        (``read/claims_page``), into typed columns: the client holds the columns and one page
        of records, never every claim as a record."""
        if "claims:spec" not in self._cache:
            parts, after = [], ""
            while True:
                recs = self.conn.read("read/claims_page", after=after, limit=self.page_rows)
                if recs:
                    parts.append(_select(_frame(recs, "claims"), TABLES["claims"].column_names))
                    after = recs[-1]["claim_id"]
                if len(recs) < self.page_rows:
                    break
            self._cache["claims:spec"] = (pd.concat(parts, ignore_index=True) if parts
                                          else _frame([], "claims"))
        return _select(self._cache["claims:spec"], columns)

    def _by_claim(self, name: str, claim_ids: Iterable[str], columns: Sequence[str] | None) -> pd.DataFrame:
        """One indexed read of these claims (or their items), unless the table is cached."""
        if name in self._cache:
            return super()._by_claim(name, claim_ids, columns)
        ids = sorted(set(map(str, claim_ids)))
        query = {"claims": "read/claims_by_id", "claim_items": "read/claim_items_by_claim"}[name]
        df = _frame(self.conn.read(query, ids=ids) if ids else [], name)
        return _select(_items_order(df) if name == "claim_items" else df, with_claim_id(columns))

    # -- server-side projections -------------------------------------------------------
    def projection(self, name: str, **params: Any) -> pd.DataFrame:
        fn = SERVER_SIDE.get(name)
        if fn is None:
            return super().projection(name, **params)
        return fn(self, **params)


def _items_order(df: pd.DataFrame) -> pd.DataFrame:
    """Claim items in the embedded store's order (claim, then item code; stable)."""
    return df.sort_values(["claim_id", "item_code"], kind="stable").reset_index(drop=True)


def _select(df: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    """``df`` with only ``columns`` (in that order; absent ones all null), or whole."""
    if columns is None:
        return df
    missing = [c for c in columns if c not in df.columns]
    out = df[[c for c in columns if c in df.columns]].copy()
    for c in missing:
        out[c] = pd.Series(pd.NA, index=out.index, dtype="string")
    return out[list(columns)]


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


def _card_patient_counts(store: Neo4jStore) -> pd.DataFrame:
    df = _rows(store, "projections/card_patient_counts", ["card_id", "patient_id", "claims"])
    n = df.pop("claims").astype("int64")
    return _typed(df).assign(claims=n.to_numpy())


def _diagnosis_counts(store: Neo4jStore) -> pd.DataFrame:
    df = _rows(store, "projections/diagnosis_counts", ["diagnosis_code", "claims"])
    return pd.DataFrame({"diagnosis_code": df["diagnosis_code"].astype("string"), "claims": df["claims"].astype("int64")})


def _latest_claim_time(store: Neo4jStore) -> pd.DataFrame:
    latest = store.conn.read("projections/latest_claim_time")[0]["latest"]
    return _typed(pd.DataFrame({"latest": [latest]}), times=["latest"])


def _family_groups(store: Neo4jStore) -> pd.DataFrame:
    from ..projections import family_components

    edges = pd.DataFrame(store.conn.read("projections/family_edges"), columns=["a", "b"])
    return family_components(edges["a"], edges["b"])


def _travel_pairs(store: Neo4jStore, *, max_gap_hours: float = 24.0, by: str = "card_id",
                  coordinate_km: float = 0.5) -> pd.DataFrame:
    from ..projections import _provider_places, _start_time_profile, pair_distances

    q = "projections/travel_pairs_card" if by == "card_id" else "projections/travel_pairs_patient"
    cols = ["key", "claim_a", "claim_b", "card_a", "card_b", "patient_a", "patient_b", "time_a", "time_b",
            "provider_a", "provider_b", "fund_a", "fund_b"]
    df = pd.DataFrame(store.conn.read(q, maxGapSeconds=int(max_gap_hours * 3600)), columns=cols)
    df = _typed(df, times=["time_a", "time_b"], floats=["fund_a", "fund_b"])
    df["gap_hours"] = (df["time_b"] - df["time_a"]).dt.total_seconds().astype("float64") / 3600.0
    return pair_distances(df, _provider_places(store, coordinate_km), _start_time_profile(store))


def _clock_minutes(store: Neo4jStore, *, providers: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    keys = [str(k) for k in dict.fromkeys(providers)]
    inst = sorted(k.split(":", 1)[1] for k in keys if k.startswith("institution:"))
    ph = sorted(k.split(":", 1)[1] for k in keys if k.startswith("pharmacy:"))
    cols = ["provider_type", "provider_id", "minute", "n"]
    recs = store.conn.read("projections/clock_minutes", institutionIds=inst, pharmacyIds=ph) if keys else []
    df = pd.DataFrame(recs, columns=cols)
    df["provider_type"] = df["provider_type"].astype("string")
    df["provider_id"] = df["provider_id"].astype("string")
    df["minute"] = df["minute"].astype("int64")
    df["n"] = df["n"].astype("int64")
    df = df.groupby(["provider_type", "provider_id", "minute"], sort=True)["n"].sum().reset_index()
    return df[cols].astype({"provider_type": "string", "provider_id": "string", "minute": "int64", "n": "int64"})


def _inpatient_admissions(store: Neo4jStore) -> pd.DataFrame:
    cols = ["claim_id", "patient_id", "institution_id", "doctor_id", "start_time", "end_time", "diagnosis_code", "fund_amount",
            "referral_id"]
    df = pd.DataFrame(store.conn.read("projections/inpatient_admissions"), columns=cols)
    return _typed(df, times=["start_time", "end_time"], floats=["fund_amount"])


def _identical_claims(store: Neo4jStore) -> pd.DataFrame:
    from ..detectors.duplicates import IDENTICAL_COLUMNS

    df = _rows(store, "projections/identical_claims", IDENTICAL_COLUMNS)
    return _typed(df, times=["start_time"], floats=["total_amount", "fund_amount"])


def _provider_claim_counts(store: Neo4jStore) -> pd.DataFrame:
    df = _rows(store, "projections/provider_claim_counts", ["provider_type", "provider_id", "claims"])
    return df.astype({"provider_type": "string", "provider_id": "string", "claims": "int64"})


def _unit_cards(store: Neo4jStore, *, units: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    keys = [str(k) for k in dict.fromkeys(units)]
    by = {t: sorted(k.split(":", 1)[1] for k in keys if k.startswith(t + ":")) for t in ("terminal", "institution", "pharmacy")}
    recs = store.conn.read("projections/unit_cards", terminalIds=by["terminal"], institutionIds=by["institution"],
                           pharmacyIds=by["pharmacy"]) if keys else []
    df = pd.DataFrame(recs, columns=["unit", "claims", "cards"])
    df = df[df["claims"] > 0] if len(df) else df
    return df.sort_values("unit").reset_index(drop=True).astype({"unit": "string", "claims": "int64", "cards": "int64"})


def _provider_activity(store: Neo4jStore) -> pd.DataFrame:
    cols = ["provider_type", "provider_id", "mode", "first_day", "last_day", "open_days", "open_weekdays"]
    df = pd.DataFrame(store.conn.read("projections/provider_activity"), columns=cols)
    df["provider_id"] = df["provider_id"].astype("string")
    epoch = pd.Timestamp("1970-01-01")
    for c in ("first_day", "last_day"):  # day numbers, as the embedded projection counts them
        df[c] = ((pd.to_datetime(df[c].map(_to_py_time)) - epoch).dt.days).astype("int64")
    df["open_days"] = df["open_days"].astype("int64")
    df["open_weekdays"] = df["open_weekdays"].astype("int64")
    keys = ["provider_type", "provider_id", "mode"]
    ppl = pd.DataFrame(store.conn.read("projections/provider_people"),
                       columns=[*keys, "patients", "regulars", "span_first", "span_last"])
    ppl["provider_id"] = ppl["provider_id"].astype("string")
    for c in ("span_first", "span_last"):
        ppl[c] = ((pd.to_datetime(ppl[c].map(_to_py_time)) - epoch).dt.days).astype("int64")
    df = df.merge(ppl, on=keys, how="left")
    return df.astype({"patients": "int64", "regulars": "int64", "span_first": "int64", "span_last": "int64"})


def _rows(store: Neo4jStore, rel: str, cols: Sequence[str], **params: Any) -> pd.DataFrame:
    """Run a projection query; its records as a frame with exactly ``cols`` (a missing column is an error)."""
    recs = store.conn.read(rel, **params)
    if recs and set(recs[0]) != set(cols):
        raise StoreError(f"{rel} returned columns {sorted(recs[0])}, expected {sorted(cols)}")
    return pd.DataFrame(recs, columns=list(cols))


# -- claims of given people or referrals (id-parameterised reads) -------------------------
def _ids(values: Iterable[Any]) -> list[str]:
    """Distinct non-null ids as strings, sorted (the query parameter)."""
    return sorted({str(v) for v in values if not pd.isna(v)})


def _patient_claims(store: Neo4jStore, *, patient_ids: Iterable[str]) -> pd.DataFrame:
    """All claims of the given people (``graphkit.detectors.rings.patient_claims``)."""
    cols = ["claim_id", "patient_id", "claim_type", "doctor_id", "start_time", "end_time", "diagnosis_code", "fund_amount",
            "provider_type", "provider_id"]
    ids = _ids(patient_ids)
    df = _rows(store, "projections/patient_claims", cols, ids=ids) if ids else pd.DataFrame([], columns=cols)
    return _typed(df, times=["start_time", "end_time"], floats=["fund_amount"])


def _member_claims(store: Neo4jStore, *, patient_ids: Iterable[str]) -> pd.DataFrame:
    """Claims settled for the given people (``graphkit.detectors.identity.member_claims``)."""
    cols = ["claim_id", "patient_id", "card_id", "start_time", "fund_amount", "provider_type", "provider_id"]
    ids = _ids(patient_ids)
    df = _rows(store, "projections/member_claims", cols, ids=ids) if ids else pd.DataFrame([], columns=cols)
    return _typed(df, times=["start_time"], floats=["fund_amount"])


def _venue_reach(store: Neo4jStore, *, institutions: Iterable[str] = (), pharmacies: Iterable[str] = ()) -> pd.DataFrame:
    """People per provider and region (``graphkit.detectors.identity.venue_reach``)."""
    cols = ["provider_type", "provider_id", "region", "patients"]
    inst, ph = _ids(institutions), _ids(pharmacies)
    df = _rows(store, "projections/venue_reach", cols, institutions=inst, pharmacies=ph) if inst or ph else pd.DataFrame([], columns=cols)
    n = df.pop("patients").astype("int64")
    return _typed(df).assign(patients=n.to_numpy())


def _referral_claims(store: Neo4jStore, *, referral_ids: Iterable[str]) -> pd.DataFrame:
    """Follow-up and origin claims of the given referrals (``graphkit.detectors.referrals.referral_claims``)."""
    cols = ["claim_id", "patient_id", "institution_id", "start_time", "referral_id", "fund_amount", "origin"]
    ids = _ids(referral_ids)
    df = _rows(store, "projections/referral_claims", cols, ids=ids) if ids else pd.DataFrame([], columns=cols)
    origin = df.pop("origin").astype(bool)
    df = _typed(df, times=["start_time"], floats=["fund_amount"])
    df["origin"] = origin
    # follow-up rows before origin rows, each by claim id; a claim that is both counts as follow-up
    df = df.sort_values(["origin", "claim_id"], kind="stable").drop_duplicates("claim_id")
    return df.reset_index(drop=True)


# -- referral aggregations -----------------------------------------------------------------
def _referral_edges(store: Neo4jStore) -> pd.DataFrame:
    """Directed institution pairs counted in the database; totals, expectation and Poisson surprise
    added here from those rows (``graphkit.detectors.referrals.referral_edges``)."""
    from ..detectors.referrals import EDGE_COLUMNS, _empty, edge_expectation

    e = _rows(store, "projections/referral_edges", ["from_institution_id", "to_institution_id", "referrals", "patients"])
    if e.empty:
        return _empty(EDGE_COLUMNS)
    for c in ("from_institution_id", "to_institution_id"):
        e[c] = e[c].astype("string")
    e = e.sort_values(["from_institution_id", "to_institution_id"], kind="stable").reset_index(drop=True)
    e["referrals"] = e["referrals"].astype("int64")
    e["patients"] = e["patients"].astype("int64")
    return edge_expectation(e)


def _doctor_referrals(store: Neo4jStore) -> pd.DataFrame:
    """Referral counts per referrer and destination (``graphkit.detectors.referrals.doctor_referrals``)."""
    from ..detectors.referrals import _empty

    keys = ["referrer_type", "referrer", "from_institution_id", "level", "region", "department", "to_institution_id"]
    cols = [*keys, "referrals", "out_of_area"]
    g = _rows(store, "projections/doctor_referrals",
              ["referrer_type", "referrer", "from_institution_id", "department", "to_institution_id", "referrals",
               "out_of_area"]).rename(columns={"referrals": "n", "out_of_area": "ooa"})
    if g.empty:
        return _empty(cols)
    for c in ("referrer", "from_institution_id", "department", "to_institution_id"):
        g[c] = g[c].astype("string")
    # peer attributes of the referring institution, mapped as the pandas projection maps them
    inst = store.table("institutions", ["institution_id", "level", "region"])
    for c in ("level", "region"):
        g[c] = g["from_institution_id"].map(pd.Series(inst[c].to_numpy(), index=inst["institution_id"].to_numpy()))
    for c in ("department", "region", "level"):
        g[c] = g[c].astype("string").fillna("?")
    # regroup after the '?' fill (a null and a literal '?' are one peer value in the pandas projection)
    g = g.groupby(keys, sort=True, dropna=False).agg(referrals=("n", "sum"), out_of_area=("ooa", "sum")).reset_index()
    g["referrals"] = g["referrals"].astype("int64")
    g["out_of_area"] = g["out_of_area"].astype("int64")
    return g[cols]


def _referral_sequences(store: Neo4jStore, *, max_gap_days: float = 60.0) -> pd.DataFrame:
    """Referrals per patient in order, linked in the database; chain and step numbers added here
    (``graphkit.detectors.referrals.referral_sequences``)."""
    from ..detectors.referrals import DAY_S, SEQ_COLUMNS, _empty, chain_steps

    cols = ["referral_id", "patient_id", "from_institution_id", "to_institution_id", "from_doctor_id", "referred_at", "linked"]
    r = _rows(store, "projections/referral_sequences", cols, maxGapSeconds=float(max_gap_days) * DAY_S)
    if r.empty:
        return _empty(SEQ_COLUMNS)
    link = r.pop("linked").fillna(False).astype(bool)
    r = _typed(r, times=["referred_at"])
    r["linked"] = link.to_numpy()
    r = r.sort_values(["patient_id", "referred_at", "referral_id"], kind="stable").reset_index(drop=True)
    # chains: a referral the database found linked to the patient's previous one continues its chain
    r["chain"], r["step"] = chain_steps(r["linked"].to_numpy(bool))
    return r[SEQ_COLUMNS]


# -- stays -----------------------------------------------------------------------------------
def _stay_overlaps(store: Neo4jStore, *, edge_days: int = 1) -> pd.DataFrame:
    """Claims settled elsewhere during inpatient stays, joined per stay in the database; regions and
    distances added here from the provider places (``graphkit.detectors.stays.stay_overlaps``)."""
    from ..detectors.stays import OVERLAP_COLUMNS, _place_distance

    cols = ["stay_claim", "stay_patient", "stay_institution", "stay_start", "stay_end", "stay_fund", "claim_id", "via",
            "patient_id", "card_id", "claim_type", "provider_type", "provider_id", "start_time", "fund_amount"]
    m = _rows(store, "projections/stay_overlaps", cols, edgeDays=int(edge_days))
    if m.empty:
        return pd.DataFrame({c: pd.Series([], dtype="object") for c in OVERLAP_COLUMNS})
    m = _typed(m, times=["stay_start", "stay_end", "start_time"], floats=["stay_fund", "fund_amount"])
    # the pandas projection's order: person before card, then stay, time, claim
    m["_via"] = (m["via"] == "card").astype("int64")
    m = m.sort_values(["_via", "stay_claim", "start_time", "claim_id"], kind="stable").reset_index(drop=True)
    out = pd.DataFrame({c: (m[c].to_numpy() if m[c].dtype.kind in "Mf" else m[c].to_numpy(dtype=object, na_value=None))
                        for c in cols})
    out["stay_fund"] = out["stay_fund"].astype(np.float64)
    out["fund_amount"] = out["fund_amount"].astype(np.float64)
    out["region_stay"], out["region_other"], out["distance_km"] = _place_distance(
        out["stay_institution"].to_numpy(), out["provider_type"].to_numpy(), out["provider_id"].to_numpy(), store)
    return out[OVERLAP_COLUMNS]


# -- identity links --------------------------------------------------------------------------
class _IdentityView:
    """The store as ``identity_links`` reads it, with the claims replaced by the one value it takes
    from them (the latest start time, the reference day for ages), computed in the database.

    Households and family groups are connected components of the contacts graph, which portable
    Cypher cannot compute; the contacts and patients (not claims) are read back for them.
    """

    def __init__(self, store: Neo4jStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def table(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        if name != "claims":
            return self._store.table(name, columns)
        if list(columns or []) != ["start_time"]:
            raise StoreError(f"identity_links read claims columns {columns!r}; only start_time is served (update the view)")
        latest = self._store.conn.read("projections/latest_claim_time")[0]["latest"]
        return _typed(pd.DataFrame({"start_time": [] if latest is None else [latest]}), times=["start_time"])


def _identity_links(store: Neo4jStore, **params: Any) -> pd.DataFrame:
    """``graphkit.detectors.identity.identity_links`` without reading claims (see :class:`_IdentityView`)."""
    from ..detectors.identity import identity_links

    return identity_links(_IdentityView(store), **params)


#: projection name -> server-side implementation
SERVER_SIDE = {
    "inpatient_admissions": _inpatient_admissions,
    "provider_activity": _provider_activity,
    "foreign_card_use": _foreign_card_use,
    "replaced_card_use": _replaced_card_use,
    "post_death_claims": _post_death_claims,
    "card_patient_counts": _card_patient_counts,
    "latest_claim_time": _latest_claim_time,
    "identical_claims": _identical_claims,
    "provider_claim_counts": _provider_claim_counts,
    "diagnosis_counts": _diagnosis_counts,
    "family_groups": _family_groups,
    "travel_pairs": _travel_pairs,
    "clock_minutes": _clock_minutes,
    "unit_cards": _unit_cards,
    "patient_claims": _patient_claims,
    "member_claims": _member_claims,
    "venue_reach": _venue_reach,
    "referral_claims": _referral_claims,
    "referral_edges": _referral_edges,
    "doctor_referrals": _doctor_referrals,
    "referral_sequences": _referral_sequences,
    "stay_overlaps": _stay_overlaps,
    "identity_links": _identity_links,
}
