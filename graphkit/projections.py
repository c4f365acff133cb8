"""Named projections: the aggregated views detectors read, computed here with pandas/numpy.

A server-backed store overrides :meth:`graphkit.store.Store.projection` and computes the
same frames server-side (same names, same columns), so detectors never change.

Examples
--------
>>> {"family_groups", "foreign_card_use", "travel_pairs"} <= set(PROJECTIONS)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._fast import string_series
from .errors import GraphkitError

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["PROJECTIONS", "compute", "computes_with_pandas", "is_sorted", "provider_codes", "provider_key"]

PROJECTIONS: dict[str, Callable[..., pd.DataFrame]] = {}


def projection(name: str):
    def deco(fn):
        PROJECTIONS[name] = fn
        return fn

    return deco


def compute(store: Store, name: str, **params: Any) -> pd.DataFrame:
    """Compute projection ``name`` on ``store`` with pandas."""
    try:
        fn = PROJECTIONS[name]
    except KeyError:
        raise GraphkitError(f"unknown projection {name!r}; known: {sorted(PROJECTIONS)}") from None
    return fn(store, **params)


def provider_key(claims: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(provider_type, provider_id) per claim: institution or pharmacy."""
    is_inst = claims["institution_id"].notna()
    ptype = pd.Series(np.where(is_inst, "institution", "pharmacy"), index=claims.index, dtype="string")
    pid = claims["institution_id"].where(is_inst, claims["pharmacy_id"]).astype("string")
    return ptype, pid


def provider_codes(store: Store, *, sort: bool = False) -> tuple[np.ndarray, pd.DataFrame]:
    """Each claim's provider as a number (-1: none; int32, stored order) and the providers by
    number (``provider_type``, ``provider_id``; institutions first, then pharmacies, each sorted by
    id with ``sort``): :func:`provider_key` from the claims' codes (:meth:`Store.table_codes`),
    with no string per claim.

    >>> import tempfile
    >>> from graphkit.store.embedded import EmbeddedStore
    >>> d = tempfile.mkdtemp()
    >>> EmbeddedStore.write(d, {"claims": pd.DataFrame({"claim_id": ["C1", "C2", "C3", "C4"],
    ...     "institution_id": ["H2", None, None, "H1"], "pharmacy_id": [None, "P1", None, None]})})
    >>> code, provs = provider_codes(EmbeddedStore(d), sort=True)
    >>> code.tolist(), provs.values.tolist()
    ([1, 2, -1, 0], [['institution', 'H1'], ['institution', 'H2'], ['pharmacy', 'P1']])
    """
    from ._fast import sorted_codes

    c = store.table_codes("claims", ["institution_id", "pharmacy_id"])
    if sort:
        (ci, inst), (cp, phs) = sorted_codes(c["institution_id"]), sorted_codes(c["pharmacy_id"])
    else:
        ci, inst = np.asarray(c["institution_id"].codes), c["institution_id"].categories
        cp, phs = np.asarray(c["pharmacy_id"].codes), c["pharmacy_id"].categories
    ci, cp, n_inst = ci.astype(np.int32), cp.astype(np.int32), len(inst)
    code = np.where(ci >= 0, ci, np.where(cp >= 0, cp + np.int32(n_inst), np.int32(-1))).astype(np.int32)
    ids = [*map(str, inst), *map(str, phs)]
    provs = pd.DataFrame({"provider_type": pd.array(["institution"] * n_inst + ["pharmacy"] * (len(ids) - n_inst), dtype="string"),
                          "provider_id": pd.array(ids, dtype="string")})
    return code, provs


def _arrow_col(s: pd.Series) -> pa.ChunkedArray:
    """A string Series as an Arrow chunked array (zero-copy for Arrow-backed strings)."""
    arr = s.array.__arrow_array__() if hasattr(s.array, "__arrow_array__") else pa.array(s.astype("string").array)
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def _arrow_lookup(keys: pd.Series, index: pd.Series, values: pd.Series) -> pa.ChunkedArray:
    """``keys.map(pd.Series(values, index=index))`` for string columns with a unique ``index``,
    as an Arrow string array (null where a key is null or not in ``index``).

    >>> s = lambda *v: pd.Series(list(v), dtype="string")
    >>> _arrow_lookup(s("b", None, "z"), s("a", "b"), s("A", "B")).to_pylist()
    ['B', None, None]
    """
    k, ix = _arrow_col(keys), _arrow_col(index)
    ix = ix.cast(k.type) if ix.type != k.type else ix
    pos = pc.index_in(k, value_set=ix.combine_chunks())
    return pa.chunked_array([_arrow_col(values).combine_chunks().take(pos.combine_chunks())]) if len(k) else \
        pa.chunked_array([], _arrow_col(values).type)


def _wanted_providers(provs: pd.DataFrame, keys: pd.Index) -> np.ndarray:
    """Numbers of the providers of :func:`provider_codes` whose ``"type:id"`` is one of ``keys``."""
    return np.flatnonzero((provs["provider_type"] + ":" + provs["provider_id"]).isin(keys).to_numpy(bool))


def computes_with_pandas(store: Store) -> bool:
    """True when ``store`` computes its projections here (with pandas), not server-side."""
    from .store.base import Store

    return type(store).projection is Store.projection


@projection("family_groups")
def family_groups(store: Store) -> pd.DataFrame:
    """patient_id → family group id, from registered ``family`` contacts (connected components)."""
    contacts = store.table("contacts", ["patient_id", "kind", "value"])
    fam = contacts[contacts["kind"] == "family"]
    return family_components(fam["patient_id"], fam["value"])


def family_components(a: pd.Series, b: pd.Series) -> pd.DataFrame:
    """patient_id → family group id: connected components of the links ``a[i] — b[i]``."""
    if len(a) == 0:
        return pd.DataFrame({"patient_id": pd.Series([], dtype="string"), "family": pd.Series([], dtype="int64")})
    ids = pd.Index(pd.unique(pd.concat([pd.Series(a), pd.Series(b)], ignore_index=True)))
    ia, ib = ids.get_indexer(a), ids.get_indexer(b)
    g = coo_matrix((np.ones(len(ia)), (ia, ib)), shape=(len(ids), len(ids)))
    _, labels = connected_components(g, directed=False)
    return pd.DataFrame({"patient_id": pd.Series(ids, dtype="string"), "family": labels.astype("int64")})


@projection("foreign_card_use")
def foreign_card_use(store: Store) -> pd.DataFrame:
    """Claims settled for someone other than the card's registered holder."""
    cols = ["claim_id", "card_id", "patient_id", "start_time", "fund_amount", "institution_id", "pharmacy_id", "doctor_id"]
    cards = store.table("cards", ["card_id", "patient_id"])
    if not cards["card_id"].is_unique:  # as Series.map: a card id must name one card
        raise GraphkitError("cards.card_id is not unique")
    # first the cards used by someone else (two columns), then all columns of their claims only
    pairs = store.table("claims", ["card_id", "patient_id"])
    other = _foreign_mask(pairs, cards)[0]
    used = pd.unique(pairs["card_id"][other].dropna())
    del pairs, other
    claims = store.table_where("claims", cols, [("card_id", "in", used)])
    foreign, holder = _foreign_mask(claims, cards)
    out = claims[foreign].copy()
    out.insert(2, "holder_id", string_series(holder, index=out.index))
    out["provider_type"], out["provider_id"] = provider_key(out)
    return out.drop(columns=["institution_id", "pharmacy_id"]).reset_index(drop=True)


def _foreign_mask(claims: pd.DataFrame, cards: pd.DataFrame) -> tuple[np.ndarray, pa.ChunkedArray]:
    """Which claims are settled for someone other than their card's holder, and those claims' holders."""
    # the holder of each claim's card by an Arrow hash lookup (a pandas map of millions of strings is slow)
    holder = _arrow_lookup(claims["card_id"], cards["card_id"], cards["patient_id"])
    foreign = pc.not_equal(holder, _arrow_col(claims["patient_id"]).cast(holder.type)).fill_null(False).combine_chunks()
    return np.asarray(foreign.to_numpy(zero_copy_only=False), dtype=bool), holder.filter(foreign)


def card_replacements(cards: pd.DataFrame) -> pd.DataFrame:
    """Lost/cancelled physical cards and the day their holder was issued a newer physical card.

    ``cards`` has card_id, patient_id, issued_date, status and optionally ``kind``. An
    e-voucher (``kind == "e_voucher"``, 医保电子凭证) is held alongside the cards: it never
    replaces a physical card and is never replaced by one. A null kind counts as physical
    (bundles before v1.1). Columns: card_id, holder_id, replaced_on.

    >>> cards = pd.DataFrame({"card_id": ["old", "ev", "new"], "patient_id": "p",
    ...     "issued_date": pd.to_datetime(["2015-01-01", "2020-01-01", "2024-03-01"]),
    ...     "status": ["lost", "active", "active"], "kind": ["physical", "e_voucher", "physical"]})
    >>> card_replacements(cards)[["card_id", "replaced_on"]].astype(str).values.tolist()
    [['old', '2024-03-01']]
    """
    kind = cards["kind"] if "kind" in cards.columns else pd.Series(pd.NA, index=cards.index, dtype="string")
    phys = (kind.isna() | (kind == "physical")).fillna(True).to_numpy(dtype=bool)
    c = cards[phys & cards["issued_date"].notna().to_numpy()]
    old = c[c["status"].isin(["lost", "cancelled"]).fillna(False)]
    pairs = old[["card_id", "patient_id", "issued_date"]].merge(
        c[["card_id", "patient_id", "issued_date"]], on="patient_id", suffixes=("", "_new"))
    pairs = pairs[(pairs["card_id_new"] != pairs["card_id"]) & (pairs["issued_date_new"] > pairs["issued_date"]).fillna(False)]
    out = pairs.groupby("card_id", sort=True).agg(holder_id=("patient_id", "first"), replaced_on=("issued_date_new", "min"))
    return out.reset_index()[["card_id", "holder_id", "replaced_on"]]


@projection("replaced_card_use")
def replaced_card_use(store: Store, *, grace_days: int = 1) -> pd.DataFrame:
    """Claims on a lost/cancelled physical card after its holder was issued a newer physical
    card (see :func:`card_replacements`; an e-voucher is never a replacement)."""
    cols = ["card_id", "patient_id", "issued_date", "status"] + (["kind"] if "kind" in store.columns("cards") else [])
    repl = card_replacements(store.table("cards", cols))
    if repl.empty:
        return pd.DataFrame(columns=["claim_id", "card_id", "patient_id", "holder_id", "start_time", "fund_amount", "doctor_id", "replaced_on", "provider_type", "provider_id"])
    r = repl.set_index("card_id")
    c = store.table_where("claims", ["claim_id", "card_id", "patient_id", "start_time", "fund_amount", "institution_id", "pharmacy_id", "doctor_id"],
                          [("card_id", "in", r.index)]).join(r["replaced_on"], on="card_id")
    c = c[c["start_time"] > c["replaced_on"] + pd.Timedelta(days=grace_days)].copy()
    c.insert(3, "holder_id", c["card_id"].map(r["holder_id"]).astype("string"))
    c["provider_type"], c["provider_id"] = provider_key(c)
    c = c.drop(columns=["institution_id", "pharmacy_id"])
    return c[["claim_id", "card_id", "patient_id", "holder_id", "start_time", "fund_amount", "doctor_id", "replaced_on", "provider_type", "provider_id"]].reset_index(drop=True)


@projection("card_patient_counts")
def card_patient_counts(store: Store) -> pd.DataFrame:
    """Claims per (card, settled person): card_id, patient_id, claims — the activity every
    card and person is compared against (shared_card's nulls)."""
    from ._fast import sorted_codes

    coded = store.table_codes("claims", ["card_id", "patient_id"])
    kc, kv = sorted_codes(coded["card_id"])
    pc, pv = sorted_codes(coded["patient_id"])
    del coded
    ok = (kc >= 0) & (pc >= 0)
    key, n = np.unique(kc[ok].astype(np.int64) * (len(pv) + 1) + pc[ok], return_counts=True)
    return pd.DataFrame({"card_id": pd.Series(np.asarray(kv, dtype=object)[key // (len(pv) + 1)], dtype="string"),
                         "patient_id": pd.Series(np.asarray(pv, dtype=object)[key % (len(pv) + 1)], dtype="string"),
                         "claims": n.astype("int64")})


@projection("latest_claim_time")
def latest_claim_time(store: Store) -> pd.DataFrame:
    """One row: ``latest``, the latest claim start time (NaT without claims): where the data ends."""
    t = store.table("claims", ["start_time"])["start_time"]
    return pd.DataFrame({"latest": pd.Series([t.max() if len(t) else pd.NaT], dtype="datetime64[s]")})


@projection("post_death_claims")
def post_death_claims(store: Store, *, grace_days: int = 0) -> pd.DataFrame:
    """Claims that start after the death date of the settled person or of the card holder."""
    pats = store.table("patients", ["patient_id", "death_date"])
    dead = pats[pats["death_date"].notna()]
    if dead.empty:
        return pd.DataFrame(columns=["claim_id", "card_id", "patient_id", "deceased_id", "death_date", "start_time", "fund_amount", "provider_type", "provider_id", "doctor_id", "via"])
    death = pd.Series(dead["death_date"].to_numpy(), index=dead["patient_id"])
    cards = store.table("cards", ["card_id", "patient_id"])
    # the card holder only where it can matter: cards of people who died (a map of every claim's
    # card is the slow part otherwise)
    dead_cards = cards[cards["patient_id"].isin(death.index).fillna(False).to_numpy(bool)]["card_id"]
    # only the claims of the dead or on their cards can start after a death: read only those
    claims = store.table_where("claims", ["claim_id", "card_id", "patient_id", "claim_type", "start_time", "fund_amount",
                                          "institution_id", "pharmacy_id", "doctor_id"],
                               [[("patient_id", "in", death.index)], [("card_id", "in", dead_cards)]])
    holder = _map_some(claims["card_id"], pd.Series(cards["patient_id"].to_numpy(), index=cards["card_id"]), dead_cards)
    limit = pd.Timedelta(days=grace_days + 1)  # start on a later calendar day than death + grace
    parts = []
    for via, who in (("patient", claims["patient_id"]), ("card_holder", holder)):
        d = _map_some(who, death, death.index)
        known = np.flatnonzero(d.notna().to_numpy(bool))  # only these can start after a death
        start = claims["start_time"].iloc[known]
        ok = (start.dt.floor("D") >= d.iloc[known] + limit).fillna(False).to_numpy(bool).copy()
        if via == "card_holder":
            ok &= (who.iloc[known] != claims["patient_id"].iloc[known]).fillna(False).to_numpy(bool)
        hit = np.zeros(len(claims), bool)
        hit[known[ok]] = True
        part = claims[hit].copy()
        part["deceased_id"] = who[hit].astype("string")
        part["death_date"] = d[hit]
        part["via"] = via
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["provider_type"], out["provider_id"] = provider_key(out)
    return out.drop(columns=["institution_id", "pharmacy_id"])


def _map_some(keys: pd.Series, lookup: pd.Series, some: Any) -> pd.Series:
    """``keys.map(lookup)`` for the keys in ``some`` (a subset of ``lookup``'s index); missing
    (NaN / NaT, ``lookup``'s dtype) elsewhere. Maps only those rows.

    >>> _map_some(pd.Series(["a", "b", None]), pd.Series([1.0, 2.0], index=["a", "b"]), ["b"]).tolist()
    [nan, 2.0, nan]
    """
    sel = keys.isin(some).fillna(False).to_numpy(bool)
    out = pd.Series(index=keys.index, dtype=lookup.dtype)
    if sel.any():
        out.iloc[np.flatnonzero(sel)] = keys[sel].map(lookup).to_numpy()
    return out


def _haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    from .places import haversine_km

    return haversine_km(lat1, lon1, lat2, lon2)


def _provider_places(store: Store, coordinate_km: float = 0.5) -> pd.DataFrame:
    """Every provider with the place used for it (see :func:`graphkit.places.provider_places`)."""
    from .places import provider_places

    return provider_places(store, coordinate_km=coordinate_km)


PAIR_COLUMNS = [
    "key", "claim_a", "claim_b", "card_a", "card_b", "patient_a", "patient_b", "time_a", "time_b",
    "provider_a", "provider_b", "region_a", "region_b", "fund_a", "fund_b", "gap_hours", "unc_a", "unc_b",
    "distance_km", "radius_a", "radius_b", "distance_low_km", "place_a", "place_b",
]


def _start_time_profile(store: Store) -> dict[str, Any] | None:
    """The profile of ``claims.start_time`` (precision, midnight share) of the whole store."""
    fn = getattr(store, "profile", None)
    if callable(fn):
        return fn()["time"].get("claims.start_time")
    from .profile import time_profile

    return time_profile(store.table("claims", ["start_time"])["start_time"])


def pair_distances(pairs: pd.DataFrame, places: pd.DataFrame, time_profile: dict[str, Any] | None = None) -> pd.DataFrame:
    """Add places, distances and time uncertainties to settlement pairs (``provider_a/b`` = "type:id").

    ``distance_km``: between the two places used (provider coordinates, else region
    centroids); ``radius_a/b``: how far each provider may be from its place;
    ``distance_low_km`` = max(0, distance − radius_a − radius_b), the least the two can be apart;
    all NaN when a place is unknown (never guessed). ``place_a/b``: ``coordinates``,
    ``region:<source>`` or ``unknown``. ``unc_a/b``: seconds each start time may be later
    than written (:func:`graphkit.profile.uncertainty_from_profile` with ``time_profile``).
    """
    from .places import lower_bound_km
    from .profile import uncertainty_from_profile

    pk = pd.Index(places["provider_type"].astype(str).str.cat(places["provider_id"].astype(str), sep=":"))
    ia, ib = pk.get_indexer(pairs["provider_a"]), pk.get_indexer(pairs["provider_b"])
    empty = places.iloc[:0].reindex([0]).reset_index(drop=True)
    pa_ = places.iloc[np.maximum(ia, 0)].reset_index(drop=True) if len(places) else empty.iloc[[0] * len(pairs)].reset_index(drop=True)
    pb_ = places.iloc[np.maximum(ib, 0)].reset_index(drop=True) if len(places) else empty.iloc[[0] * len(pairs)].reset_index(drop=True)
    miss_a, miss_b = ia < 0, ib < 0
    dist = _haversine_km(pa_["lat"].to_numpy(float), pa_["lon"].to_numpy(float), pb_["lat"].to_numpy(float), pb_["lon"].to_numpy(float))
    dist = np.where(miss_a | miss_b, np.nan, dist)
    ra = np.where(miss_a, np.nan, pa_["radius_km"].to_numpy(float))
    rb = np.where(miss_b, np.nan, pb_["radius_km"].to_numpy(float))
    out = pairs.reset_index(drop=True).copy()
    out["region_a"] = pa_["region"].astype("string").where(~miss_a, pd.NA).fillna("").to_numpy()
    out["region_b"] = pb_["region"].astype("string").where(~miss_b, pd.NA).fillna("").to_numpy()
    out["unc_a"] = uncertainty_from_profile(out["time_a"], time_profile)
    out["unc_b"] = uncertainty_from_profile(out["time_b"], time_profile)
    out["distance_km"] = dist
    out["radius_a"], out["radius_b"] = ra, rb
    out["distance_low_km"] = lower_bound_km(dist, ra, rb)
    out["place_a"] = np.where(miss_a, "unknown", pa_["place"].astype(str).to_numpy())
    out["place_b"] = np.where(miss_b, "unknown", pb_["place"].astype(str).to_numpy())
    return out[PAIR_COLUMNS]


@projection("clock_minutes")
def clock_minutes(store: Store, *, providers: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """Claims per minute of the day (0..1439) of the providers named ``"type:id"`` in
    ``providers``: ``provider_type, provider_id, minute, n`` (only minutes with claims),
    sorted. A provider settling in batches or remotely shows a spike."""
    cols = ["provider_type", "provider_id", "minute", "n"]
    want = pd.Index(pd.unique(pd.Series(list(providers), dtype="string")))
    if len(want) == 0:
        return pd.DataFrame({"provider_type": pd.Series([], dtype="string"), "provider_id": pd.Series([], dtype="string"),
                             "minute": pd.Series([], dtype="int64"), "n": pd.Series([], dtype="int64")})
    prov, provs = provider_codes(store)
    rows = np.flatnonzero(np.isin(prov, _wanted_providers(provs, want)))
    t = store.table("claims", ["start_time"])["start_time"].to_numpy("datetime64[s]").astype("int64")[rows]
    df = pd.DataFrame({"provider_type": provs["provider_type"].to_numpy(object)[prov[rows]],
                       "provider_id": provs["provider_id"].to_numpy(object)[prov[rows]],
                       "minute": ((t % 86400) // 60).astype("int64")})
    out = df.groupby(["provider_type", "provider_id", "minute"], sort=True).size().rename("n").reset_index()
    out["n"] = out["n"].astype("int64")
    out["provider_type"] = out["provider_type"].astype("string")
    out["provider_id"] = out["provider_id"].astype("string")
    return out[cols]


@projection("unit_cards")
def unit_cards(store: Store, *, units: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """Claims and distinct cards settled at each unit named ``"terminal:id"``, ``"institution:id"``
    or ``"pharmacy:id"`` in ``units``: ``unit, claims, cards``, sorted by unit (units without
    claims are left out). How many people a terminal or provider serves.

    >>> from graphkit.store import open_store  # doctest: +SKIP
    >>> unit_cards(open_store("store"), units=["terminal:T0001"])  # doctest: +SKIP
    """
    cols = ["unit", "claims", "cards"]
    want = pd.Index(pd.unique(pd.Series(list(units), dtype="string")))
    empty = pd.DataFrame({"unit": pd.Series([], dtype="string"), "claims": pd.Series([], dtype="int64"),
                          "cards": pd.Series([], dtype="int64")})
    if len(want) == 0:
        return empty
    have = set(store.columns("claims")) if hasattr(store, "columns") else set()
    # the wanted units' claims found by codes; card ids read for those claims only
    prov, provs = provider_codes(store)
    keys = (provs["provider_type"] + ":" + provs["provider_id"]).to_numpy(object)
    rows = [np.flatnonzero(np.isin(prov, _wanted_providers(provs, want)))]
    units = [keys[prov[rows[0]]]]
    if "terminal_id" in have:
        term = store.table_codes("claims", ["terminal_id"])["terminal_id"]
        labels = "terminal:" + pd.Index(term.categories, dtype=object).astype(str)
        hit = np.flatnonzero(labels.isin(want))
        tcode = np.asarray(term.codes, dtype=np.int64)
        rows.append(np.flatnonzero(np.isin(tcode, hit)))
        units.append(np.asarray(labels, dtype=object)[tcode[rows[1]]])
        del term, tcode
    at = np.concatenate(rows)
    long = pd.DataFrame({"unit": np.concatenate(units) if at.size else np.zeros(0, object),
                         "card": store.table_rows("claims", ["card_id"], at)["card_id"].to_numpy()})
    long = long[long["unit"].isin(want).fillna(False).to_numpy(bool)]
    if long.empty:
        return empty
    g = long.groupby("unit", sort=True)["card"]
    out = pd.DataFrame({"claims": g.size(), "cards": g.nunique()}).reset_index()
    return out.astype({"unit": "string", "claims": "int64", "cards": "int64"})[cols]


@projection("travel_pairs")
def travel_pairs(store: Store, *, max_gap_hours: float = 24.0, by: str = "card_id", coordinate_km: float = 0.5) -> pd.DataFrame:
    """Consecutive settlements of one card (``by="card_id"``) or person (``"patient_id"``) at
    different providers within ``max_gap_hours`` (as written), with places, distances and time
    uncertainties (see :func:`pair_distances`). Ties in time are broken by claim id.
    """
    return travel_pairs_by(store, (by,), max_gap_hours=max_gap_hours, coordinate_km=coordinate_km)[by]


def travel_pairs_by(store: Store, bys: tuple[str, ...] = ("card_id", "patient_id"), *, max_gap_hours: float = 24.0,
                    coordinate_km: float = 0.5) -> dict[str, pd.DataFrame]:
    """The ``travel_pairs`` projection for each key in ``bys``: a store that computes its projections
    with pandas reads the claims (and places) once for all keys; a server-side store is asked per key."""
    if not computes_with_pandas(store):
        return {by: store.projection("travel_pairs", max_gap_hours=max_gap_hours, by=by, coordinate_km=coordinate_km)
                for by in bys}
    from ._fast import sorted_codes

    # integer codes for the sort and comparisons (no string per claim); strings only for the
    # selected pairs, read for their rows
    claims = store.table("claims", ["start_time", "fund_amount"])
    coded = store.table_codes("claims", list(bys))
    prov, provs = provider_codes(store)
    keys = np.append((provs["provider_type"] + ":" + provs["provider_id"]).to_numpy(dtype=object), pd.NA)
    prov = np.where(prov >= 0, prov, len(keys) - 1)  # no provider: a place of its own
    t = claims["start_time"].to_numpy("datetime64[s]").astype("int64")
    ids = store.table("claims", ["claim_id"])["claim_id"]
    tie = np.arange(len(claims)) if is_sorted(ids) else ids.rank(method="first").to_numpy()
    del ids
    places, prof = _provider_places(store, coordinate_km), _start_time_profile(store)
    out = {}
    for by in bys:
        codes = sorted_codes(coded[by])[0]  # pairs in key order, as the Cypher returns them
        order = np.lexsort((tie, t, codes))
        c, tt, kk = codes[order], t[order], prov[order]
        same = (c[1:] == c[:-1]) & (c[1:] >= 0)
        gap_h = (tt[1:] - tt[:-1]) / 3600.0
        sel = np.nonzero(same & (kk[1:] != kk[:-1]) & (gap_h <= max_gap_hours))[0]
        del c, tt, kk, same
        a, b = order[sel], order[sel + 1]
        AB = store.table_rows("claims", ["claim_id", "card_id", "patient_id"], np.concatenate([a, b]))
        A, B = AB.iloc[: a.size].reset_index(drop=True), AB.iloc[a.size:].reset_index(drop=True)
        for col in ("start_time", "fund_amount"):
            A[col], B[col] = claims[col].to_numpy()[a], claims[col].to_numpy()[b]
        pairs = pd.DataFrame(
            {
                "key": A[by].to_numpy(),
                "claim_a": A["claim_id"].to_numpy(), "claim_b": B["claim_id"].to_numpy(),
                "card_a": A["card_id"].to_numpy(), "card_b": B["card_id"].to_numpy(),
                "patient_a": A["patient_id"].to_numpy(), "patient_b": B["patient_id"].to_numpy(),
                "time_a": A["start_time"].to_numpy(), "time_b": B["start_time"].to_numpy(),
                "provider_a": keys[prov[a]], "provider_b": keys[prov[b]],
                "fund_a": A["fund_amount"].to_numpy(), "fund_b": B["fund_amount"].to_numpy(),
                "gap_hours": gap_h[sel],
            }
        )
        out[by] = pair_distances(pairs, places, prof)
    return out


def is_sorted(s: pd.Series | pd.Index) -> bool:
    """``s.is_monotonic_increasing`` for a string column or index, in Arrow when it is Arrow-backed
    (nulls: False) — pandas would build (and keep) a hash table of every value to answer it.

    >>> is_sorted(pd.Index(["a", "b", "b"], dtype="str")), is_sorted(pd.Series(["b", "a"], dtype="str"))
    (True, False)
    """
    arr = getattr(s.array, "_pa_array", None)
    if arr is None or len(s) < 2:
        return bool(s.is_monotonic_increasing)
    import pyarrow.compute as pc

    x = arr.combine_chunks() if hasattr(arr, "combine_chunks") else arr
    if x.null_count:
        return False
    return bool(pc.all(pc.less_equal(x.slice(0, len(x) - 1), x.slice(1))).as_py())
