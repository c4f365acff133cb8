"""The claims table as compact integer arrays, read once for the whole risk model.

Every provider-side entity (institution, pharmacy, doctor) gets a row number in one entity
table; every claim becomes a few numpy arrays (entity rows, patient row, day, amounts). The
risk model's indicators, exposure and network are then ``np.bincount`` / sparse products over
these arrays: no Python loop over claims, and the claims' string columns are read one at a
time and factorised at once, so peak memory stays a few hundred bytes per claim.

Examples
--------
>>> import pandas as pd
>>> from graphkit.store.embedded import EmbeddedStore
>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> EmbeddedStore.write(d, {
...     "institutions": pd.DataFrame({"institution_id": ["H1"], "region": ["A"]}),
...     "claims": pd.DataFrame({"claim_id": ["C1", "C2"], "patient_id": ["P1", "P1"],
...         "claim_type": ["outpatient", "outpatient"], "institution_id": ["H1", "H1"],
...         "start_time": pd.to_datetime(["2024-01-01", "2024-01-02"]),
...         "total_amount": [10.0, 20.0], "fund_amount": [8.0, 16.0]})})
>>> act = claims_activity(EmbeddedStore(d))
>>> act.entities[["entity_type", "entity_id"]].to_dict("records")
[{'entity_type': 'institution', 'entity_id': 'H1'}]
>>> act.prov.tolist(), act.fund.tolist()
([0, 0], [8.0, 16.0])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._fast import _bisect
from ..allocator import release_memory
from ..profile import time_precision

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["Activity", "claims_activity", "index_of", "table_batches", "CLAIM_TYPES"]

CLAIM_TYPES = ("outpatient", "inpatient", "pharmacy")
_DAY = np.int64(86400)


@dataclass
class Activity:
    """Claims as arrays over one entity table.

    ``entities``: entity_type, entity_id, name, region, plus descriptive columns (kind, level,
    ownership, chain, department, institution level) used for peer groups.
    Per claim: ``prov`` (entity row of the institution/pharmacy, -1 when unknown), ``doc``
    (entity row of the doctor, -1 when none), ``pat`` (patient row), ``ctype`` (index into
    :data:`CLAIM_TYPES`, -1 other), ``day`` (days since 1970), ``sec`` (seconds of day),
    ``los`` (days between start and end, NaN when no end), ``fund``, ``total``, ``dx``
    (diagnosis code row in ``dx_codes``, -1 none).
    """

    entities: pd.DataFrame
    patients: pd.DataFrame
    prov: np.ndarray
    doc: np.ndarray
    pat: np.ndarray
    ctype: np.ndarray
    day: np.ndarray
    sec: np.ndarray
    los: np.ndarray
    fund: np.ndarray
    total: np.ndarray
    dx: np.ndarray
    dx_codes: pd.Index
    time_precision: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def n_claims(self) -> int:
        return int(self.prov.size)

    @property
    def n_entities(self) -> int:
        return int(len(self.entities))

    def rows(self, kind: str) -> np.ndarray:
        """Entity rows of one entity type."""
        return np.flatnonzero(self.entities["entity_type"].to_numpy() == kind)


def _entity_table(store: Store, insured_regions: pd.Series) -> pd.DataFrame:
    inst = store.table("institutions", ["institution_id", "name", "level", "ownership", "kind", "region"])
    phar = store.table("pharmacies", ["pharmacy_id", "name", "chain", "region"])
    docs = store.table("doctors", ["doctor_id", "name", "institution_id", "department"])
    lvl = pd.Series(inst["level"].to_numpy(), index=inst["institution_id"].astype(str))
    lvl = lvl[~lvl.index.duplicated()]
    parts = [
        pd.DataFrame({"entity_type": "institution", "entity_id": inst["institution_id"].astype(str).to_numpy(),
                      "name": inst["name"].to_numpy(object), "region": inst["region"].to_numpy(object),
                      "kind": inst["kind"].to_numpy(object), "level": inst["level"].to_numpy(object),
                      "ownership": inst["ownership"].to_numpy(object)}),
        pd.DataFrame({"entity_type": "pharmacy", "entity_id": phar["pharmacy_id"].astype(str).to_numpy(),
                      "name": phar["name"].to_numpy(object), "region": phar["region"].to_numpy(object),
                      "chain": phar["chain"].to_numpy(object)}),
        pd.DataFrame({"entity_type": "doctor", "entity_id": docs["doctor_id"].astype(str).to_numpy(),
                      "name": docs["name"].to_numpy(object),
                      "home": docs["institution_id"].to_numpy(object),
                      "department": docs["department"].to_numpy(object),
                      "level": docs["institution_id"].map(lvl).to_numpy(object)}),
    ]
    ent = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else parts[0]
    for c in ("name", "region", "kind", "level", "ownership", "chain", "home", "department"):
        if c not in ent.columns:
            ent[c] = None
    ent = ent.drop_duplicates(["entity_type", "entity_id"]).reset_index(drop=True)
    ent["locality"] = localities(ent, insured_regions)
    return ent


def localities(ent: pd.DataFrame, insured_regions: pd.Series) -> np.ndarray:
    """``away`` for a provider whose region is home to none of the insured (异地就医: a hospital in
    another city that some of them visited), ``local`` where some live, ``None`` where either side's
    region is unknown; doctors take their institution's. The bundle's insured live where the bureau
    is, so no threshold is needed: an unrecognised coding on either side leaves everyone local or
    unknown, never half the city away.

    >>> ent = pd.DataFrame({"entity_type": ["institution", "institution", "pharmacy", "doctor"],
    ...                     "entity_id": ["H1", "H2", "Y1", "D1"], "region": ["A", "Z", None, None],
    ...                     "home": [None, None, None, "H2"]})
    >>> localities(ent, pd.Series(["A", "A", "B"])).tolist()
    ['local', 'away', None, 'away']
    """
    home = set(insured_regions.dropna().astype(str))
    out = np.full(len(ent), None, dtype=object)
    if not home:
        return out
    t = ent["entity_type"].to_numpy()
    reg = ent["region"]
    prov = np.isin(t, ["institution", "pharmacy"]) & reg.notna().to_numpy()
    out[prov] = np.where(reg[prov].astype(str).isin(home).to_numpy(), "local", "away")
    at = home_rows(ent)
    out[at >= 0] = out[at[at >= 0]]
    return out


def home_rows(ent: pd.DataFrame) -> np.ndarray:
    """Per entity row, the row of the institution a doctor belongs to (``home``; -1 otherwise).

    >>> ent = pd.DataFrame({"entity_type": ["institution", "doctor", "doctor"], "entity_id": ["H1", "D1", "D2"],
    ...                     "home": [None, "H1", "H9"]})
    >>> home_rows(ent).tolist()
    [-1, 0, -1]
    """
    t = ent["entity_type"].to_numpy()
    inst = t == "institution"
    rows = pd.Series(np.flatnonzero(inst), index=ent["entity_id"].to_numpy(object)[inst])
    rows = rows[~rows.index.duplicated()]
    out = np.full(len(ent), -1, np.int64)
    doc = t == "doctor"
    out[doc] = pd.Series(ent["home"].to_numpy(object)[doc]).map(rows).fillna(-1).to_numpy(np.int64)
    return out


def index_of(values: pd.Series, ids: Any) -> np.ndarray:
    """Position of each of ``values`` in ``ids`` (strings), -1 when null or absent; a hash
    lookup in Arrow (ten times faster than pandas' on Arrow-backed strings).

    >>> index_of(pd.Series(["b", None, "z", "a"]), ["a", "b"]).tolist()
    [1, -1, -1, 0]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = getattr(values.array, "_pa_array", None)
    if arr is None:
        arr = pa.array(values.astype(object).where(values.notna(), None), type=pa.string(), from_pandas=True)
    elif not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.string())
    vs = ids if isinstance(ids, (pa.Array, pa.ChunkedArray)) else getattr(getattr(ids, "array", None), "_pa_array", None)
    if vs is not None:
        vs = vs.combine_chunks() if isinstance(vs, pa.ChunkedArray) else vs
    else:
        vs = pa.array(np.asarray(ids, dtype=object).astype(str), type=pa.string())
    if vs.type != arr.type:
        vs = vs.cast(arr.type)
    out = pc.index_in(arr, value_set=vs)
    return np.asarray(pc.fill_null(out, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """(codes, uniques) like ``pd.factorize(values, use_na_sentinel=True)``, in Arrow for Arrow strings.

    >>> c, u = _factorize(pd.Series(["x", None, "y", "x"], dtype="string[pyarrow]"))
    >>> c.tolist(), list(u)
    ([0, -1, 1, 0], ['x', 'y'])
    """
    import pyarrow.compute as pc

    arr = getattr(values.array, "_pa_array", None)
    if arr is None:
        codes, uniq = pd.factorize(values.astype(object), use_na_sentinel=True)
        return codes, pd.Index(uniq)
    enc = pc.dictionary_encode(arr).combine_chunks()
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, pd.Index(enc.dictionary.to_pylist(), dtype=object)


#: claims per streamed batch: small enough that a batch's string columns stay a few tens of MB
BATCH_ROWS = 1 << 18
#: claims whose patient ids are looked up at once (each lookup hashes every patient id: not per batch)
PATIENT_LOOKUP_ROWS = 1 << 22

_CLAIM_COLUMNS = ["institution_id", "pharmacy_id", "doctor_id", "patient_id", "claim_type", "start_time", "end_time",
                  "fund_amount", "total_amount", "diagnosis_code"]


def table_batches(store: Store, name: str, columns: list[str], batch_rows: int | None = None) -> tuple[int, Any]:
    """(rows, iterator of frames) of a fact table's ``columns``, typed like ``store.table``: streamed
    in stored order where the store can (embedded Parquet), the whole table at once otherwise.
    ``batch_rows``: rows per frame (default :data:`BATCH_ROWS`).

    >>> import tempfile
    >>> from graphkit.store.embedded import EmbeddedStore
    >>> d = tempfile.mkdtemp()
    >>> EmbeddedStore.write(d, {"claims": pd.DataFrame({"claim_id": ["C1", "C2", "C3"], "fund_amount": [1.0, 2.0, 3.0]})})
    >>> n, it = table_batches(EmbeddedStore(d), "claims", ["fund_amount", "doctor_id"], batch_rows=2)
    >>> frames = list(it)
    >>> n, [f["fund_amount"].tolist() for f in frames], bool(frames[0]["doctor_id"].isna().all())
    (3, [[1.0, 2.0], [3.0]], True)
    """
    if hasattr(store, "iter_table") and hasattr(store, "table_file") and store.has_table(name):
        import pyarrow.parquet as pq

        from ..store.embedded import _empty_typed, to_frame

        n = int(pq.ParquetFile(store.table_file(name)).metadata.num_rows)

        def gen():
            for batch in store.iter_table(name, columns, batch_rows=batch_rows or BATCH_ROWS):
                df = to_frame(batch)
                for c in columns:  # absent columns all null, as store.table gives them
                    if c not in df.columns:
                        df[c] = _empty_typed(name, [c])[c].reindex(range(len(df)))
                yield df[columns]
        return n, gen()
    whole = store.table(name, columns)
    return len(whole), iter([whole])




def _arrow(values: pd.Series) -> Any:
    """``values`` as one Arrow string array (zero-copy for Arrow-backed strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = getattr(values.array, "_pa_array", None)
    if arr is None:
        arr = pa.array(values.astype(object).where(values.notna(), None), type=pa.string(), from_pandas=True)
    elif not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


class _Codes:
    """Codes of string values streamed batch by batch: first the known ids (their row), then new
    values numbered in order of first appearance over the whole stream (as one
    ``dictionary_encode`` / ``pd.unique`` of the whole column would number them)."""

    def __init__(self, known: Any) -> None:
        import pyarrow as pa

        self.known = pa.array(np.asarray(known, dtype=object).astype(str), type=pa.string())
        self.n_known = len(self.known)
        self.new: list[str] = []
        self._new_arr = None
        self._cast: dict[Any, Any] = {}

    def __call__(self, values: pd.Series) -> np.ndarray:
        """Code per value: its known position, ``n_known + i`` for the i-th new value, -1 when null."""
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = _arrow(values)
        known = self._cast.get(arr.type)
        if known is None:
            known = self._cast[arr.type] = self.known.cast(arr.type)
        out = np.asarray(pc.fill_null(pc.index_in(arr, value_set=known), -1).to_numpy(zero_copy_only=False), np.int64)
        miss = (out < 0) & np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
        if miss.any():
            marr = arr.filter(pa.array(miss))
            seen = set(self.new)
            fresh = [x for x in pc.unique(marr).to_pylist() if x not in seen]
            if fresh:
                self.new.extend(fresh)
                self._new_arr = None
            if self._new_arr is None:
                self._new_arr = pa.array(self.new, type=pa.string())
            pos = pc.index_in(marr, value_set=self._new_arr.cast(arr.type)).to_numpy(zero_copy_only=False)
            out[miss] = self.n_known + np.asarray(pos, np.int64)
        return out


class _ClaimRows:
    """Row of each claim id in the claims table, without holding all the claims' ids: the fact
    tables are stored in claim-id order with claim-id min/max per row group, so a batch of items
    is looked up among the claims of the row groups whose id range can hold it (a window that
    slides along the table). Stores without row-group statistics look up among all claims."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pf = None
        if hasattr(store, "table_file") and store.has_table("claims"):
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(store.table_file("claims"))
            if "claim_id" in pf.schema_arrow.names:
                md = pf.metadata
                ci = pf.schema_arrow.get_field_index("claim_id")
                self.pf = pf
                self.start = np.concatenate([[0], np.cumsum([md.row_group(g).num_rows for g in range(md.num_row_groups)])])
                self.ranges = []
                for g in range(md.num_row_groups):
                    st = md.row_group(g).column(ci).statistics
                    ok = st is not None and st.has_min_max and isinstance(st.min, str)
                    self.ranges.append((st.min, st.max) if ok else None)
        self._key: tuple[int, ...] | None = None
        self._cache: dict[int, Any] = {}
        self._ids = None
        self._rows = None

    def _window(self, groups: tuple[int, ...]) -> None:
        if groups == self._key:
            return
        import pyarrow as pa
        import pyarrow.compute as pc

        self._ids = None
        # each row group's ids read once (a window slides by a group or two) with whether they are in order
        cache = {g: self._cache[g] for g in groups if g in self._cache}
        for g in groups:
            if g not in cache:
                ids = self.pf.read_row_group(g, columns=["claim_id"]).column("claim_id").combine_chunks()
                cache[g] = (ids, len(ids) < 2 or (ids.null_count == 0 and not pc.any(pc.less(ids[1:], ids[:-1])).as_py()))
        self._cache = cache
        parts = [cache[g][0] for g in groups]
        self._ids = (pa.concat_arrays(parts) if len(parts) > 1 else parts[0]) if parts else pa.array([], pa.large_string())
        self._rows = (np.concatenate([np.arange(self.start[g], self.start[g + 1]) for g in groups])
                      if groups else np.zeros(0, np.int64))
        self._key = groups
        self._sorted = all(cache[g][1] for g in groups) and all(
            len(p) == 0 or len(q) == 0 or p[len(p) - 1].as_py() <= q[0].as_py() for p, q in zip(parts, parts[1:]))

    def __call__(self, claim_id: pd.Series) -> np.ndarray:
        """Claim row of each id (-1 when null or not a claim); the first row when an id repeats."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.pf is None:
            return index_of(claim_id, self.store.table("claims", ["claim_id"])["claim_id"]).astype(np.int64)
        arr = _arrow(claim_id)
        mm = pc.min_max(arr).as_py()
        if mm["min"] is None:
            return np.full(len(arr), -1, np.int64)
        lo, hi = mm["min"], mm["max"]
        groups = tuple(g for g, r in enumerate(self.ranges) if r is None or (r[0] <= hi and r[1] >= lo))
        self._window(groups)
        vs, rows = self._ids, self._rows
        if self._sorted:  # ids in order: only the run of ids within [lo, hi] can match (a smaller hash)
            a, b = _bisect(vs, lo, right=False), _bisect(vs, hi, right=True)
            vs, rows = vs.slice(a, b - a), rows[a:b]
        vs = vs if vs.type == arr.type else vs.cast(arr.type)
        # a claim's items are stored together: each run of one id is looked up once
        head = np.ones(len(arr), bool)
        if len(arr) > 1:
            head[1:] = pc.fill_null(pc.not_equal(arr.slice(1), arr.slice(0, len(arr) - 1)), True).to_numpy(
                zero_copy_only=False)
        run = np.cumsum(head) - 1
        heads = arr.filter(pa.array(head))
        pos = np.asarray(pc.fill_null(pc.index_in(heads, value_set=vs), -1).to_numpy(zero_copy_only=False), np.int64)
        return np.where(pos >= 0, rows[np.maximum(pos, 0)] if len(rows) else -1, -1)[run]


def claims_activity(store: Store, *, batch_rows: int | None = None) -> Activity:
    """Read the claims columns the risk model needs and return them as an :class:`Activity`.

    Providers and doctors seen in claims but missing from their tables are added to the
    entity table (without attributes), so every claim's provider has a row. The claims are
    streamed in batches of ``batch_rows`` (embedded store): only the per-claim arrays are
    held, never a whole string column; the result does not depend on ``batch_rows``.
    """
    import pyarrow as pa

    from ..profile import _counts, _profile_from_counts

    pats = store.table("patients", ["patient_id", "birth_date", "sex", "region", "death_date"])
    ent = _entity_table(store, pats["region"])
    types = ent["entity_type"].to_numpy()
    ids = ent["entity_id"].to_numpy()
    rows_of = {t: np.flatnonzero(types == t) for t in ("institution", "pharmacy", "doctor")}
    coders = {t: _Codes(ids[r]) for t, r in rows_of.items()}
    pindex = pd.Index(pats["patient_id"].astype(str))
    pcodes = pa.array(np.asarray(pindex.to_numpy(), dtype=object).astype(str), type=pa.string())  # converted once
    unknown = pd.Index([], dtype=pindex.dtype)
    n, batches = table_batches(store, "claims", _CLAIM_COLUMNS, batch_rows)
    base = len(ent)

    def rows(codes: np.ndarray, etype: str, new_at: int | None) -> np.ndarray:
        """Entity rows of one batch's codes; the i-th id new to the tables gets ``new_at + i``
        (its final row) or, with ``new_at`` None, the provisional ``-2 - i``."""
        r = rows_of[etype]
        known = codes < len(r)
        out = np.where(known, r[np.minimum(codes, len(r) - 1)] if len(r) else -1, -1)
        new = ~known
        if new.any():
            out[new] = (new_at + codes[new] - len(r)) if new_at is not None else (-2 - (codes[new] - len(r)))
        out[codes < 0] = -1
        return out.astype(np.int32)

    # per claim: institution (else pharmacy) and doctor entity rows. Ids missing from their tables
    # are added after the known entities, institutions first (final rows at once), then pharmacies
    # and doctors (provisional negative codes, placed once all new ids are known)
    prov = np.full(n, -1, np.int32)
    doc = np.full(n, -1, np.int32)
    pat = np.zeros(n, np.int32)
    ctype = np.zeros(n, np.int8)
    day = np.zeros(n, np.int32)
    sec = np.zeros(n, np.int32)
    los = np.full(n, np.nan, np.float32)
    fund = np.zeros(n, np.float64)
    total = np.zeros(n, np.float64)
    dx = np.full(n, -1, np.int32)
    dx_coder = _Codes([])
    counts = np.zeros(4, np.int64)
    at = 0
    # patient ids are looked up several batches at a time: each lookup hashes all the patients' ids
    pend: list[pd.Series] = []
    pend_rows = 0
    pat_at = 0

    def patient_rows(unknown: pd.Index) -> pd.Index:
        """Patient rows of the pending claims (ids missing from the patients table are appended
        after it in order of first appearance); returns the grown list of those ids."""
        nonlocal pend, pend_rows, pat_at
        if not pend:
            return unknown
        pid = pd.concat(pend, ignore_index=True) if len(pend) > 1 else pend[0].reset_index(drop=True)
        pend, pend_rows = [], 0
        pb = index_of(pid, pcodes)
        if (pb < 0).any():
            u = pd.Index(pd.unique(pid[pb < 0].astype(str)))
            fresh = u[unknown.get_indexer(u) < 0]
            if len(fresh):
                unknown = unknown.append(fresh)
            pb[pb < 0] = len(pindex) + unknown.get_indexer(pid[pb < 0].astype(str))
        pat[pat_at:pat_at + len(pb)] = pb
        pat_at += len(pb)
        return unknown

    for f in batches:
        k = len(f)
        sl = slice(at, at + k)
        at += k
        if k == 0:
            continue
        pr = rows(coders["institution"](f["institution_id"]), "institution", base)
        ph = rows(coders["pharmacy"](f["pharmacy_id"]), "pharmacy", None)
        prov[sl] = np.where(pr >= 0, pr, ph)
        doc[sl] = rows(coders["doctor"](f["doctor_id"]), "doctor", None)
        del pr, ph
        pend.append(f["patient_id"])
        pend_rows += k
        if pend_rows >= PATIENT_LOOKUP_ROWS:
            unknown = patient_rows(unknown)
        ctype[sl] = index_of(f["claim_type"], list(CLAIM_TYPES))
        start = f["start_time"]
        sod = start.dropna().to_numpy("datetime64[s]").astype("int64")
        counts += np.asarray(_counts(np.mod(sod, 86400)), np.int64)
        st = start.to_numpy("datetime64[s]").astype("int64")
        bad = start.isna().to_numpy()
        day_b = np.where(bad, -1, st // _DAY).astype(np.int32)
        day[sl] = day_b
        sec[sl] = np.where(bad, -1, st % _DAY)
        end = f["end_time"]
        if end.notna().any():
            e = end.to_numpy("datetime64[s]").astype("int64")
            los[sl] = np.where(end.isna().to_numpy() | bad, np.nan, (e // _DAY - day_b)).astype(np.float32)
        fund[sl] = f["fund_amount"].to_numpy("float64", na_value=0.0)
        total[sl] = f["total_amount"].to_numpy("float64", na_value=0.0)
        dx[sl] = dx_coder(f["diagnosis_code"])
        del f, start, end
    unknown = patient_rows(unknown)
    release_memory()
    prec = _profile_from_counts(*map(int, counts))["precision"] if n else None
    notes: list[str] = []
    extra = []
    for etype in ("institution", "pharmacy", "doctor"):
        miss = coders[etype].new
        if miss:
            extra.append(pd.DataFrame({"entity_type": etype, "entity_id": miss}))
            table = "doctors" if etype == "doctor" else etype
            notes.append(f"{len(miss)} {etype} id(s) in claims but not in the {table} table: added without attributes")
    n_inst, n_phar = len(coders["institution"].new), len(coders["pharmacy"].new)
    for arr, at_row in ((prov, base + n_inst), (doc, base + n_inst + n_phar)):
        new = arr <= -2
        if new.any():
            arr[new] = at_row + (-2 - arr[new])
        del new
    if extra:
        ent = pd.concat([ent, *extra], ignore_index=True)
    if len(unknown):
        pats = pd.concat([pats, pd.DataFrame({"patient_id": unknown})], ignore_index=True)
    return Activity(
        entities=ent, patients=pats.reset_index(drop=True), prov=prov, doc=doc, pat=pat,
        ctype=ctype, day=day, sec=sec, los=los, fund=fund, total=total, dx=dx,
        dx_codes=pd.Index(dx_coder.new, dtype=object), time_precision=prec, notes=notes,
    )
