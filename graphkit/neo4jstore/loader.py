"""Load a claims bundle into Neo4j: validated exactly like the embedded load, then batched
``UNWIND … MERGE`` in explicit, retried transactions.

* Idempotent: every write is a MERGE on a unique key; loading the same bundle again
  changes nothing (a completed load is recorded and skipped).
* Resumable: each batch commits together with a checkpoint (``:GraphkitLoad``); a killed
  load re-run continues after the last committed batch, with no duplicates.
* Personal fields are pseudonymised with the same keyed hash as the embedded store.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from .._failpoints import failpoint
from ..schema import TABLE_ORDER, TABLES
from ..store.embedded import store_fingerprint
from .model import CONTACT_RELS, LABEL_TABLE, MODEL, camel
from .runner import CYPHER_DIR, Connection, run_in

__all__ = ["Neo4jLoadResult", "load_bundle_neo4j", "neo4j_keys", "to_rows"]


@dataclass
class Neo4jLoadResult:
    uri: str
    rows: dict[str, int] = field(default_factory=dict)
    bundle_fingerprint: str = ""
    store_fingerprint: str = ""
    seconds: float = 0.0
    rows_written: int = 0
    skipped: bool = False
    resumed_from: tuple[int, int] | None = None
    report: Any = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_written / self.seconds if self.seconds else 0.0


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


def to_rows(df: pd.DataFrame, table: str, exclude: set[str]) -> list[dict[str, Any]]:
    """Property maps (camelCase names for spec columns) for each row; nulls dropped."""
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
            conv[c] = [_py(x) for x in s.astype(object)]
    names = [camel(c) if c in spec.column_names else c for c in cols]
    out = []
    for vals in zip(*(conv[c] for c in cols)) if cols else ([] for _ in range(len(df))):
        out.append({n: v for n, v in zip(names, vals) if v is not None})
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


@dataclass
class _Step:
    name: str
    batches: list[list[tuple[str, dict[str, Any]]]]  # per batch: (query, params) statements
    rows: int


def _batches(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(i + size, n))


def _plan(tables: dict[str, pd.DataFrame], batch_size: int, known: dict[str, pd.Index] | None = None) -> list[_Step]:
    """Batches of (query, params) per table. A batch whose nodes all are new uses plain
    relationship MERGEs; one touching existing nodes uses the ``_replace`` variants, which
    drop an older single-valued relationship (a claim's card, a card's holder …)."""
    known = known or {}
    steps: list[_Step] = []
    for t in TABLE_ORDER:
        if t not in tables or tables[t].empty:
            continue
        df = tables[t].reset_index(drop=True)
        if t in MODEL:
            spec = MODEL[t]
            fk_cols = {c for c, _, _ in spec.refs}
            props = to_rows(df, t, {spec.key} | fk_cols)
            keys = df[spec.key].tolist()
            existing = df[spec.key].isin(known[t]).to_numpy(bool) if t in known and len(known[t]) else np.zeros(len(df), bool)
            batches = []
            for sl in _batches(len(df), batch_size):
                stmts = [(f"load/{t}", {"rows": [{"key": k, "props": p} for k, p in zip(keys[sl], props[sl])]})]
                replace = bool(existing[sl].any())
                for col, q, reverse in spec.refs:
                    if replace and (CYPHER_DIR / f"{q}_replace.cypher").exists():
                        q = f"{q}_replace"
                    part = df.iloc[sl]
                    part = part[part[col].notna()]
                    if part.empty:
                        continue
                    a, b = (part[col], part[spec.key]) if reverse else (part[spec.key], part[col])
                    stmts.append((q, {"rows": [{"from": x, "to": y} for x, y in zip(a.tolist(), b.tolist())]}))
                batches.append(stmts)
            steps.append(_Step(t, batches, len(df)))
        elif t == "contacts":
            batches = []
            for sl in _batches(len(df), batch_size):
                part = df.iloc[sl]
                stmts = []
                for kind, (q, _) in CONTACT_RELS.items():
                    k = part[part["kind"] == kind]
                    if len(k):
                        stmts.append((q, {"rows": [{"from": a, "to": b} for a, b in zip(k["patient_id"].tolist(), k["value"].tolist())]}))
                batches.append(stmts)
            steps.append(_Step(t, batches, len(df)))
        elif t == "budgets":
            keys = (df["provider_type"] + ":" + df["provider_id"] + ":" + df["year"].astype("string")).tolist()
            props = to_rows(df, t, set())
            batches = []
            for sl in _batches(len(df), batch_size):
                part = df.iloc[sl]
                stmts = [("load/budgets", {"rows": [{"key": k, "props": p} for k, p in zip(keys[sl], props[sl])]})]
                for ptype in ("institution", "pharmacy"):
                    m = (part["provider_type"] == ptype).to_numpy(bool)
                    if m.any():
                        stmts.append((f"load/{ptype}_has_budget", {"rows": [
                            {"from": a, "to": b} for a, b in zip(part.loc[m, "provider_id"].tolist(), [keys[sl][i] for i in np.flatnonzero(m)])]}))
                batches.append(stmts)
            steps.append(_Step(t, batches, len(df)))
        elif t == "claim_items":
            ordinal = df.groupby("claim_id", sort=False).cumcount()
            keys = (df["claim_id"] + "#" + ordinal.map("{:04d}".format)).tolist()
            props = to_rows(df, t, {"claim_id"})
            # batches end at claim boundaries: a claim's items are cleared and rewritten together
            bounds = np.flatnonzero(df["claim_id"].to_numpy()[1:] != df["claim_id"].to_numpy()[:-1]) + 1
            starts = [0]
            for b in bounds:
                if b - starts[-1] >= batch_size:
                    starts.append(int(b))
            starts.append(len(df))
            batches = []
            for s0, s1 in zip(starts[:-1], starts[1:]):
                cids = df["claim_id"].iloc[s0:s1]
                batches.append(
                    [
                        ("load/claim_items_clear", {"claimIds": pd.unique(cids).tolist()}),
                        ("load/claim_items", {"rows": [{"claimId": c, "key": k, "props": p} for c, k, p in zip(cids.tolist(), keys[s0:s1], props[s0:s1])]}),
                    ]
                )
            steps.append(_Step(t, batches, len(df)))
    return steps


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
    start_step, start_batch = (cp[0]["step"], cp[0]["batch"]) if cp else (0, -1)
    if cp:
        result.resumed_from = (start_step, start_batch)

    steps = _plan(tables, batch_size, known)
    total = sum(len(s.batches) for s in steps)
    done = written_now = 0
    for si, step in enumerate(steps):
        for bi, stmts in enumerate(step.batches):
            done += 1
            if (si, bi) <= (start_step, start_batch):
                continue
            if stop_after_batches is not None and written_now == stop_after_batches:
                result.seconds = time.perf_counter() - t0
                return result
            written_now += 1

            def work(tx, stmts=stmts, si=si, bi=bi):
                for q, params in stmts:
                    run_in(tx, q, **params)
                run_in(tx, "meta/write_checkpoint", fingerprint=bundle_fp, step=si, batch=bi, complete=False,
                       at=time.strftime("%Y-%m-%dT%H:%M:%S"))

            conn.write(work, name=f"load {step.name} batch {bi}")
            failpoint(f"bolt_after_batch:{done}")
            if progress:
                progress(step.name, done, total)
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
               at=time.strftime("%Y-%m-%dT%H:%M:%S"))

    conn.write(finish, name="load finish")
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
    return out
