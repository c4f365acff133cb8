"""Load a claims bundle into Neo4j: validated exactly like the embedded load, then batched
``UNWIND`` statements in explicit, retried transactions.

* Claims new to the graph (the common case: a fresh bundle) are written by one statement per
  batch that CREATEs each claim, its relationships and its items in a single pass
  (``cypher/load/claims_create.cypher``). Everything else is a MERGE on a unique key.
* Idempotent: loading the same bundle again changes nothing (a completed load is recorded and
  skipped; a forced re-run finds every key in the graph and takes the MERGE path).
* Resumable: each batch commits together with a checkpoint (``:GraphkitLoad``); a killed
  load re-run continues after the last committed batch, with no duplicates. Which rows are
  "new" is decided from the keys the graph holds when the (re-)run starts, so rows of
  committed batches are never CREATEd twice; a checkpoint written with another batch layout
  (other ``batch_size`` or loader version) restarts from the first batch, which is just as safe.
* Updated rows (keys already in the graph) MERGE their node and replace single-valued
  relationships (a claim's card, provider, doctor …) through the ``*_replace`` files; a claim's
  items are replaced as a whole.
* Personal fields are pseudonymised with the same keyed hash as the embedded store.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np
import pandas as pd

from .._failpoints import failpoint
from ..schema import TABLE_ORDER, TABLES
from ..store.embedded import store_fingerprint
from .model import CONTACT_RELS, LABEL_TABLE, MODEL, camel
from .runner import CYPHER_DIR, Connection, Neo4jError, fetch_in, run_in

__all__ = ["Neo4jLoadResult", "load_bundle_neo4j", "neo4j_keys", "to_rows"]


@dataclass
class Neo4jLoadResult:
    uri: str
    rows: dict[str, int] = field(default_factory=dict)
    bundle_fingerprint: str = ""
    store_fingerprint: str = ""
    seconds: float = 0.0
    rows_written: int = 0
    write_seconds: float = 0.0  # the batches alone (validation, pseudonymisation and planning excluded)
    build_seconds: float = 0.0  # building the batches' parameters on the client (in a thread, overlapping the writes)
    skipped: bool = False
    resumed_from: tuple[int, int] | None = None
    report: Any = None
    profile: dict[str, Any] | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_written / self.seconds if self.seconds else 0.0

    @property
    def write_rows_per_second(self) -> float:
        """Bundle rows per second of the writing phase alone."""
        return self.rows_written / self.write_seconds if self.write_seconds else 0.0


def _py(v: Any) -> Any:
    """A value the driver sends as the right Cypher type (None for nulls)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float):
        return None if math.isnan(v) else v
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, np.generic):
        v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    return v


def _plain_values(s: pd.Series) -> list[Any]:
    """A non-temporal column as Python values (str, int, float, bool), None for nulls."""
    if s.dtype == object:
        return [_py(x) for x in s]
    return s.astype(object).where(s.notna(), None).tolist()


def to_rows(df: pd.DataFrame, table: str, exclude: set[str], *, keep_nulls: bool = False) -> list[dict[str, Any]]:
    """Property maps (camelCase names for spec columns) for each row; nulls dropped, or kept
    for the spec columns with ``keep_nulls`` (an update: ``SET n += {p: null}`` removes ``p``)."""
    spec = TABLES[table]
    cols = [c for c in df.columns if c not in exclude]
    conv: dict[str, Any] = {}
    for c in cols:
        s = df[c]
        typ = spec.column(c).type if c in spec.column_names else None
        if typ == "date":
            conv[c] = [None if pd.isna(x) else x.date() for x in s]
        elif typ == "datetime" or pd.api.types.is_datetime64_any_dtype(s):
            conv[c] = [None if pd.isna(x) else x.to_pydatetime() for x in s]
        else:
            conv[c] = _plain_values(s)
    names = [camel(c) if c in spec.column_names else c for c in cols]
    spec_names = {camel(c) for c in cols if c in spec.column_names} if keep_nulls else set()
    out = []
    for vals in zip(*(conv[c] for c in cols)) if cols else ([] for _ in range(len(df))):
        out.append({n: v for n, v in zip(names, vals) if v is not None or n in spec_names})
    return out


def _clear_stmts(part: pd.DataFrame, key: str, refs: Any) -> list[Stmt]:
    """Nodes updated with an emptied optional reference lose that relationship (``<query>_clear``
    files; a claim's provider is replaced by the other provider's ``_replace`` instead)."""
    out = []
    for col, q, _reverse in refs:
        name = q.removesuffix("_replace") + "_clear"
        empty = part[col].isna().to_numpy(bool)
        if empty.any() and (CYPHER_DIR / f"{name}.cypher").exists():
            out.append(Stmt(name, {"keys": part.loc[empty, key].tolist()}))
    return out


def neo4j_keys(conn: Connection) -> dict[str, pd.Index]:
    """Primary keys already in the graph, per bundle table (for cross-bundle references)."""
    recs = conn.read("read/keys")
    out: dict[str, list[str]] = {}
    for r in recs:
        t = LABEL_TABLE.get(r["label"])
        if t:
            out.setdefault(t, []).append(r["key"])
    return {t: pd.Index(v, dtype="string") for t, v in out.items()}


#: Bumped whenever the batch layout changes: a checkpoint written with another layout (or another
#: ``batch_size``) restarts the load from its first batch instead of skipping the wrong batches.
PLAN_VERSION = 2

#: ``claims`` / ``claim_items`` columns that ``load/claims_create`` writes as named properties;
#: any other column (a bundle's extra columns) travels in the row's ``extra`` map.
CLAIM_CREATE_COLUMNS = ("claim_type", "department", "start_time", "end_time", "diagnosis_code",
                        "total_amount", "fund_amount", "self_amount")
ITEM_CREATE_COLUMNS = ("item_code", "item_name", "category", "quantity", "unit_price", "amount",
                       "item_time", "days_supply", "department")


class Stmt(NamedTuple):
    """One statement of a batch: a ``cypher/`` file, its parameters and, for statements that
    return ``created``, the count they must report (else the transaction is rolled back)."""

    query: str
    params: dict[str, Any]
    expect: int | None = None


Batch = Callable[[], list[Stmt]]


@dataclass
class _Step:
    name: str
    #: one builder per batch: statements are built when their batch is written, so memory holds
    #: one batch of row maps rather than the whole bundle's (and skipped batches cost nothing)
    batches: list[Batch]
    rows: int


def _batches(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(i + size, n))


def _iso_or_none(s: pd.Series) -> list[str | None]:
    """A date-time column as ISO-8601 strings (``localdatetime()`` parses them), None for nulls."""
    arr = s.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT"))
    whole = arr[~np.isnat(arr)].astype("int64") % 1_000_000 == 0
    out = np.datetime_as_string(arr, unit="s" if whole.all() else "us").tolist()
    return [None if v == "NaT" else v for v in out]


def _create_rows(df: pd.DataFrame, table: str, key: str, key_name: str, named: tuple[str, ...],
                 refs: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Row maps for a ``*_create`` statement: the key, the ``named`` columns and the ``refs`` by
    camelCase name (date-times as ISO strings), every other column in an ``extra`` map; nulls
    are left out (an absent value is not set)."""
    spec = TABLES[table]
    present = [c for c in named + refs if c in df.columns]
    cols = [key_name] + [camel(c) for c in present]
    values: list[list[Any]] = [df[key].tolist()]
    for c in present:
        s = df[c]
        values.append(_iso_or_none(s) if spec.column(c).type == "datetime" else _plain_values(s))
    other = [c for c in df.columns if c not in {key, *named, *refs}]
    if other:
        cols.append("extra")
        values.append([e or None for e in to_rows(df[other], table, set())])
    return [{n: v for n, v in zip(cols, vals) if v is not None} for vals in zip(*values)]


def _ref_stmt(q: str, part: pd.DataFrame, key: str, col: str, reverse: bool) -> Stmt | None:
    """``q`` over the rows of ``part`` whose reference ``col`` is set, as ``{from, to}`` pairs
    (the referenced node is ``from`` when ``reverse``); None when no row has it."""
    ref = part[part[col].notna()]
    if ref.empty:
        return None
    a, b = (ref[col], ref[key]) if reverse else (ref[key], ref[col])
    return Stmt(q, {"rows": [{"from": x, "to": y} for x, y in zip(a.tolist(), b.tolist())]})


def _with_item_keys(items: pd.DataFrame) -> pd.DataFrame:
    """Items with ``_item_key`` = claimId#ordinal (ordinal in bundle order within the claim)."""
    ordinal = items.groupby("claim_id", sort=False).cumcount()
    return items.assign(_item_key=items["claim_id"] + "#" + ordinal.map("{:04d}".format).astype("string"))


def _item_stmts(items: pd.DataFrame) -> list[Stmt]:
    """Replace the items of claims already in the graph: clear them, then MERGE the new ones
    (``items`` carries ``_item_key``)."""
    props = to_rows(items.drop(columns=["_item_key"]), "claim_items", {"claim_id"})
    return [
        Stmt("load/claim_items_clear", {"claimIds": pd.unique(items["claim_id"]).tolist()}),
        Stmt("load/claim_items", {"rows": [{"claimId": c, "key": k, "props": p}
                                           for c, k, p in zip(items["claim_id"].tolist(), items["_item_key"].tolist(), props)]}),
    ]


def _claims_step(claims: pd.DataFrame, items: pd.DataFrame | None, batch_size: int,
                 known: pd.Index | None) -> tuple[_Step, pd.DataFrame | None]:
    """Batches of ``batch_size`` claims, each written with its items in the same transaction.
    Returns the step and the items whose claim is not in this bundle (items a later bundle adds
    to an earlier claim), which get a step of their own."""
    spec = MODEL["claims"]
    ref_cols = tuple(c for c, _, _ in spec.refs)
    claims = claims.reset_index(drop=True)
    is_known = (claims[spec.key].isin(known).to_numpy(bool) if known is not None and len(known)
                else np.zeros(len(claims), bool))
    orphans = None
    # items sorted by their claim's position (stable: bundle order within a claim), plus where
    # each claim's items start and end in that order
    by_claim = pd.DataFrame(columns=["claim_id", "_item_key"])
    starts = ends = np.zeros(len(claims), np.int64)
    if items is not None and not items.empty:
        items = _with_item_keys(items.reset_index(drop=True))
        pos = pd.Index(claims[spec.key]).get_indexer(items["claim_id"])
        if (pos < 0).any():
            orphans = items[pos < 0].drop(columns="_item_key")
        order = np.argsort(np.where(pos < 0, len(claims), pos), kind="stable")
        order = order[: int((pos >= 0).sum())]
        by_claim = items.iloc[order].reset_index(drop=True)
        sorted_pos = pos[order]
        starts = np.searchsorted(sorted_pos, np.arange(len(claims)), side="left")
        ends = np.searchsorted(sorted_pos, np.arange(len(claims)), side="right")

    def items_of(idx: np.ndarray) -> pd.DataFrame:
        """The items of the claims at positions ``idx``, in that order."""
        return by_claim.iloc[np.concatenate([np.arange(starts[i], ends[i]) for i in idx])]

    def build(sl: slice) -> list[Stmt]:
        part, known_part = claims.iloc[sl], is_known[sl]
        stmts = []
        if (~known_part).any():
            idx = np.flatnonzero(~known_part) + sl.start
            rows = _create_rows(claims.iloc[idx], "claims", spec.key, "claimId", CLAIM_CREATE_COLUMNS, ref_cols)
            its = items_of(idx)
            item_rows = (_create_rows(its.drop(columns="claim_id"), "claim_items", "_item_key", "itemKey", ITEM_CREATE_COLUMNS)
                         if len(its) else [])
            k = 0
            for r, i in zip(rows, idx):
                n = int(ends[i] - starts[i])
                r["items"] = item_rows[k : k + n]
                k += n
            stmts.append(Stmt("load/claims_create", {"rows": rows}, expect=len(rows)))
        if known_part.any():
            old = part[known_part]
            props = to_rows(old, "claims", {spec.key, *ref_cols}, keep_nulls=True)
            stmts.append(Stmt("load/claims", {"rows": [{"key": k, "props": p} for k, p in zip(old[spec.key].tolist(), props)]}))
            stmts.extend(st for col, q, reverse in spec.refs if (st := _ref_stmt(q, old, spec.key, col, reverse)))
            stmts.extend(_clear_stmts(old, spec.key, spec.refs))
            its = items_of(np.flatnonzero(known_part) + sl.start)
            if len(its):
                stmts.extend(_item_stmts(its))
        return stmts

    batches: list[Batch] = [lambda sl=sl: build(sl) for sl in _batches(len(claims), batch_size)]
    return _Step("claims", batches, len(claims) + len(by_claim)), orphans


def _node_step(t: str, df: pd.DataFrame, batch_size: int, known: pd.Index | None) -> _Step:
    """A node table other than claims: MERGE the nodes, then their relationships (the
    ``_replace`` variants when a batch touches nodes already in the graph)."""
    spec = MODEL[t]
    fk_cols = {c for c, _, _ in spec.refs}
    existing = df[spec.key].isin(known).to_numpy(bool) if known is not None and len(known) else np.zeros(len(df), bool)

    def build(sl: slice) -> list[Stmt]:
        part = df.iloc[sl]
        replace = bool(existing[sl].any())
        props = to_rows(part, t, {spec.key} | fk_cols, keep_nulls=replace)
        stmts = [Stmt(f"load/{t}", {"rows": [{"key": k, "props": p} for k, p in zip(part[spec.key].tolist(), props)]})]
        for col, q, reverse in spec.refs:
            if replace and (CYPHER_DIR / f"{q}_replace.cypher").exists():
                q = f"{q}_replace"
            if st := _ref_stmt(q, part, spec.key, col, reverse):
                stmts.append(st)
        if replace:
            stmts.extend(_clear_stmts(part[existing[sl]], spec.key, spec.refs))
        return stmts

    return _Step(t, [lambda sl=sl: build(sl) for sl in _batches(len(df), batch_size)], len(df))


def _contacts_step(df: pd.DataFrame, batch_size: int) -> _Step:
    def build(sl: slice) -> list[Stmt]:
        part = df.iloc[sl]
        stmts = []
        for kind, (q, _) in CONTACT_RELS.items():
            k = part[part["kind"] == kind]
            if len(k):
                stmts.append(Stmt(q, {"rows": [{"from": a, "to": b} for a, b in zip(k["patient_id"].tolist(), k["value"].tolist())]}))
        return stmts

    return _Step("contacts", [lambda sl=sl: build(sl) for sl in _batches(len(df), batch_size)], len(df))


def _budgets_step(df: pd.DataFrame, batch_size: int) -> _Step:
    keys = df["provider_type"] + ":" + df["provider_id"] + ":" + df["year"].astype("string")

    def build(sl: slice) -> list[Stmt]:
        part, part_keys = df.iloc[sl], keys.iloc[sl]
        props = to_rows(part, "budgets", set())
        stmts = [Stmt("load/budgets", {"rows": [{"key": k, "props": p} for k, p in zip(part_keys.tolist(), props)]})]
        for ptype in ("institution", "pharmacy"):
            m = (part["provider_type"] == ptype).to_numpy(bool)
            if m.any():
                stmts.append(Stmt(f"load/{ptype}_has_budget", {"rows": [
                    {"from": a, "to": b} for a, b in zip(part.loc[m, "provider_id"].tolist(), part_keys[m].tolist())]}))
        return stmts

    return _Step("budgets", [lambda sl=sl: build(sl) for sl in _batches(len(df), batch_size)], len(df))


def _orphan_items_step(df: pd.DataFrame, batch_size: int) -> _Step:
    """Items whose claim is not in this bundle (it is in the graph: validated): replaced per claim."""
    df = _with_item_keys(df.reset_index(drop=True))
    df = df.iloc[np.argsort(pd.factorize(df["claim_id"])[0], kind="stable")].reset_index(drop=True)
    # batches end at claim boundaries: a claim's items are cleared and rewritten together
    cid = df["claim_id"].to_numpy()
    starts = [0]
    for b in np.flatnonzero(cid[1:] != cid[:-1]) + 1:
        if b - starts[-1] >= batch_size:
            starts.append(int(b))
    starts.append(len(df))
    return _Step("claim_items", [lambda s0=s0, s1=s1: _item_stmts(df.iloc[s0:s1]) for s0, s1 in zip(starts[:-1], starts[1:])], len(df))


def _plan(tables: dict[str, pd.DataFrame], batch_size: int, known: dict[str, pd.Index] | None = None) -> list[_Step]:
    """Batches of statements per table, in table order. The layout (steps, batch boundaries)
    depends on the bundle and ``batch_size`` only; ``known`` (keys in the graph when the load
    starts) only picks the statements: CREATE for new claims, MERGE + ``_replace`` otherwise."""
    known = known or {}
    steps: list[_Step] = []
    orphan_items = tables.get("claim_items")
    for t in TABLE_ORDER:
        if t not in tables or tables[t].empty:
            continue
        df = tables[t].reset_index(drop=True)
        if t == "claims":
            step, orphan_items = _claims_step(df, tables.get("claim_items"), batch_size, known.get("claims"))
            steps.append(step)
        elif t in MODEL:
            steps.append(_node_step(t, df, batch_size, known.get(t)))
        elif t == "contacts":
            steps.append(_contacts_step(df, batch_size))
        elif t == "budgets":
            steps.append(_budgets_step(df, batch_size))
        elif t == "claim_items" and orphan_items is not None and not orphan_items.empty:
            steps.append(_orphan_items_step(orphan_items, batch_size))
    return steps


def _run_stmts(tx: Any, stmts: list[Stmt]) -> None:
    for st in stmts:
        if st.expect is None:
            run_in(tx, st.query, **st.params)
            continue
        got = fetch_in(tx, st.query, **st.params)
        created = int(got[0]["created"]) if got else 0
        if created != st.expect:
            # a row whose patient or card is missing would lose its relationships: refuse the batch
            raise Neo4jError(f"{st.query}: created {created} of {st.expect} rows; the batch was rolled back")


def _built(build: Batch) -> tuple[list[Stmt], float]:
    """A batch's statements, and the seconds it took to build them."""
    t0 = time.perf_counter()
    stmts = build()
    return stmts, time.perf_counter() - t0


def load_bundle_neo4j(
    bundle: str | Path,
    conn: Connection,
    *,
    lenient: bool = False,
    mapping: Any = None,
    encoding: str | None = None,
    key: bytes | str | None = None,
    pseudonymise: bool = True,
    allow_demo_key: bool | None = None,
    batch_size: int = 2000,
    progress: Callable[[str, int, int], None] | None = None,
    stop_after_batches: int | None = None,
) -> Neo4jLoadResult:
    """Validate ``bundle`` and write it into the graph behind ``conn`` (see module docstring).

    ``progress(step, batches_done, batches_total)`` is called after every batch.
    ``stop_after_batches`` stops (as if killed) after that many batches — for tests.
    """
    from loaders.embedded import check_compatible, ready_bundle

    t0 = time.perf_counter()
    known = neo4j_keys(conn)
    ready = ready_bundle(bundle, known_keys=known, mapping=mapping, encoding=encoding, lenient=lenient,
                         key=key, pseudonymise=pseudonymise, allow_demo_key=allow_demo_key)
    tables, p, prints, bundle_fp = ready.prepared.tables, ready.pseudonymiser, ready.prints, ready.fingerprint
    result = Neo4jLoadResult(conn.uri, bundle_fingerprint=bundle_fp, report=ready.prepared.report)

    conn.schema()
    meta = conn.read("meta/read_meta")
    old_manifest = json.loads(meta[0]["manifest"]) if meta and meta[0].get("manifest") else {}
    if old_manifest:
        check_compatible(old_manifest, pseudonymise=pseudonymise, key_id=p.key_id, where="the graph")
    cp = conn.read("meta/read_checkpoint", fingerprint=bundle_fp)
    if cp and cp[0].get("complete"):
        result.skipped = True
        result.store_fingerprint = meta[0]["fingerprint"] if meta else ""
        result.rows = _counts(conn)
        result.seconds = time.perf_counter() - t0
        return result
    plan = f"v{PLAN_VERSION}/batch={batch_size}"
    start_step, start_batch = (0, -1)
    if cp and cp[0].get("plan") == plan:
        start_step, start_batch = cp[0]["step"], cp[0]["batch"]
        result.resumed_from = (start_step, start_batch)
    # (a checkpoint of another layout: every batch runs again; rows committed before are
    # "known" now and take the MERGE path, so nothing is written twice)

    steps = _plan(tables, batch_size, known)
    total = sum(len(s.batches) for s in steps)
    todo: list[tuple[int, int, int, str, Batch]] = []  # (step, batch, number of the batch in the plan, step name, builder)
    number = 0
    for si, step in enumerate(steps):
        for bi, build in enumerate(step.batches):
            number += 1
            if (si, bi) > (start_step, start_batch):
                todo.append((si, bi, number, step.name, build))
    stopped = stop_after_batches is not None and len(todo) > stop_after_batches
    if stopped:
        todo = todo[:stop_after_batches]
    t_write = time.perf_counter()
    # the next batch's parameters are built in a thread while this one is written (the
    # driver waits on the server with the GIL released): client work overlaps server work
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphkit-bolt-build")
    try:
        ahead = pool.submit(_built, todo[0][4]) if todo else None
        for n, (si, bi, done, name, _build) in enumerate(todo):
            assert ahead is not None
            stmts, secs = ahead.result()
            result.build_seconds += secs
            ahead = pool.submit(_built, todo[n + 1][4]) if n + 1 < len(todo) else None

            def work(tx, stmts=stmts, si=si, bi=bi, done=done):
                _run_stmts(tx, stmts)
                run_in(tx, "meta/write_checkpoint", fingerprint=bundle_fp, step=si, batch=bi, complete=False,
                       plan=plan, at=time.strftime("%Y-%m-%dT%H:%M:%S"))
                failpoint(f"bolt_in_batch:{done}")  # dies before the commit: the batch is rolled back

            conn.write(work, name=f"load {name} batch {bi}")
            failpoint(f"bolt_after_batch:{done}")
            if progress:
                progress(name, done, total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    result.write_seconds = time.perf_counter() - t_write
    if stopped:
        result.seconds = time.perf_counter() - t0
        return result
    # the graph's fingerprint: identical to the embedded store's when the graph was empty before
    if not old_manifest:
        fp = store_fingerprint(prints)
    else:
        fp = hashlib.sha256((old_manifest.get("fingerprint", "") + bundle_fp).encode()).hexdigest()
    loads = list(old_manifest.get("loads", []))
    loads.append({"bundle": str(Path(bundle).resolve()), "bundle_fingerprint": bundle_fp,
                  "rows": {t: int(len(df)) for t, df in tables.items()}, "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    manifest = {"fingerprint": fp, "pseudonymised": pseudonymise, "key_id": p.key_id if pseudonymise else None,
                "schema_version": "claims-bundle/v1", "loads": loads}

    def finish(tx):
        run_in(tx, "meta/write_meta", fingerprint=fp, manifest=json.dumps(manifest, ensure_ascii=False))
        run_in(tx, "meta/write_checkpoint", fingerprint=bundle_fp, step=len(steps), batch=0, complete=True,
               plan=plan, at=time.strftime("%Y-%m-%dT%H:%M:%S"))

    conn.write(finish, name="load finish")
    # the data profile of the whole graph, kept in the meta node with the manifest
    from .store import Neo4jStore

    profile = Neo4jStore(conn).profile()
    manifest["data_profile"] = profile
    conn.write(lambda tx: run_in(tx, "meta/write_meta", fingerprint=fp, manifest=json.dumps(manifest, ensure_ascii=False)),
               name="load profile")
    result.profile = profile
    result.store_fingerprint = fp
    result.rows = _counts(conn)
    result.rows_written = sum(s.rows for s in steps)
    result.seconds = time.perf_counter() - t0
    return result


def _counts(conn: Connection) -> dict[str, int]:
    by_label = {r["label"]: int(r["n"]) for r in conn.read("read/counts")}
    out = {t: by_label.get(spec.label, 0) for t, spec in MODEL.items()}
    out["claim_items"] = by_label.get("ClaimItem", 0)
    out["budgets"] = by_label.get("Budget", 0)
    out["regions"] = by_label.get("Region", 0)
    out["contacts"] = by_label.get("contacts", 0)
    return out
