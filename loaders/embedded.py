"""Load a validated bundle into the embedded store (atomic, idempotent, additive).

Examples
--------
>>> from loaders import load_bundle                  # doctest: +SKIP
>>> result = load_bundle("bundle", "store")           # doctest: +SKIP
>>> result.rows["claims"]                             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from graphkit._fast import isin
from graphkit.errors import BundleError
from graphkit.pseudo import Pseudonymiser, demo_key_allowed, resolve_key
from graphkit.schema import PERSONAL_FIELDS, TABLE_ORDER, TABLES
from graphkit.store.embedded import EmbeddedStore, table_fingerprint

from .bundle import Mapping
from .validate import Prepared, ValidationReport, prepare_bundle

__all__ = ["LoadResult", "load_bundle", "store_keys", "pseudonymise_tables"]


@dataclass
class LoadResult:
    """What a load did: rows per table in the store, the report, and the fingerprints."""

    store: Path
    report: ValidationReport
    rows: dict[str, int] = field(default_factory=dict)
    bundle_fingerprint: str = ""
    store_fingerprint: str = ""
    seconds: float = 0.0
    quarantine_dir: Path | None = None


def store_keys(store: str | Path) -> dict[str, pd.Index]:
    """Primary keys present in an existing store (for cross-bundle references)."""
    path = Path(store)
    if not (path / "manifest.json").exists():
        return {}
    st = EmbeddedStore(path)
    out = {}
    for t in TABLE_ORDER:
        pk = TABLES[t].primary_key
        if len(pk) == 1 and st.has_table(t):
            out[t] = pd.Index(st.table(t, [pk[0]])[pk[0]].dropna())
    return out


def pseudonymise_tables(tables: dict[str, pd.DataFrame], p: Pseudonymiser) -> None:
    """Replace personal fields by keyed tokens, in place (``contacts`` family links stay ids)."""
    for t, cols in PERSONAL_FIELDS.items():
        if t not in tables:
            continue
        df = tables[t]
        for c in cols:
            if c not in df.columns:
                continue
            if t == "contacts" and c == "value":
                if "kind" in df.columns:
                    mask = (df["kind"] != "family").fillna(True).to_numpy(bool)
                else:  # (quarantined rows of a file without the column) tokenise everything
                    mask = np.ones(len(df), bool)
                vals = df[c].copy()
                vals[mask] = p.series(df.loc[mask, c].astype("string"))
                df[c] = vals.astype("string")
            else:
                df[c] = p.series(df[c].astype("string")).astype("string")


def _pseudonymise_quarantine(
    quarantine: dict[str, pd.DataFrame], report: ValidationReport, p: Pseudonymiser
) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Copies of the quarantined rows and the report with personal values replaced by tokens.

    Rows stay identifiable by their ``_row`` number; the raw text of a malformed row of a
    table holding personal fields is tokenised as a whole.
    """
    out = {t: q.copy() for t, q in quarantine.items()}
    pseudonymise_tables(out, p)
    for t in PERSONAL_FIELDS:
        if t in out and "_text" in out[t].columns:
            out[t]["_text"] = p.series(out[t]["_text"].astype("string")).astype("string")
    issues = report.issues
    if not issues.empty:
        # per distinct (table, column): does the value hold a personal field? (None = whole row)
        pairs = issues[["table", "column"]].drop_duplicates()
        personal = [
            (t, c)
            for t, c in zip(pairs["table"], pairs["column"])
            if t in PERSONAL_FIELDS
            and (c is None or pd.isna(c) or bool(set(PERSONAL_FIELDS[t]) & set(str(c).split("|"))))
        ]
        if personal:
            none = "\x1f(none)\x1f"  # stands for a null column (a whole-row issue)
            key = pd.MultiIndex.from_frame(issues[["table", "column"]].astype(object).fillna(none))
            wanted = pd.MultiIndex.from_tuples([(t, none if c is None or pd.isna(c) else c) for t, c in personal])
            mask = key.isin(wanted) & (issues["rule"] != "dangling_reference").to_numpy(bool)
            if mask.any():
                issues = issues.copy()
                vals = p.series(issues.loc[mask, "value"].astype("string"))
                issues["value"] = issues["value"].astype(object)
                issues.loc[mask, "value"] = vals.astype(object).where(vals.notna(), None).to_numpy(object)
    return out, dataclasses.replace(report, issues=issues)


@dataclass
class ReadyBundle:
    """A validated bundle, pseudonymised, with its content fingerprints: what every loader writes."""

    prepared: Prepared
    pseudonymiser: Pseudonymiser
    prints: dict[str, str]
    fingerprint: str


def ready_bundle(
    bundle: str | Path,
    *,
    known_keys: dict[str, pd.Index],
    mapping: Mapping | str | Path | None,
    encoding: str | None,
    lenient: bool,
    key: bytes | str | None,
    pseudonymise: bool,
    allow_demo_key: bool | None,
    say: Callable[[str], None] | None = None,
) -> ReadyBundle:
    """Validate (strict: raise :class:`BundleError` on any issue), pseudonymise, fingerprint."""
    say = say or (lambda _msg: None)
    say("读取并校验 / reading and validating")
    prepared = prepare_bundle(bundle, mapping=mapping, encoding=encoding, lenient=lenient, known_keys=known_keys)
    if not prepared.report.ok and not lenient:
        raise BundleError(prepared.report.format(), issues=prepared.report.issue_list())
    p = Pseudonymiser(resolve_key(key, allow_demo=demo_key_allowed(bundle) if allow_demo_key is None else allow_demo_key))
    if pseudonymise:
        say("假名化 / pseudonymising personal fields")
        pseudonymise_tables(prepared.tables, p)
    prints = {t: table_fingerprint(df) for t, df in sorted(prepared.tables.items())}
    return ReadyBundle(prepared, p, prints, hashlib.sha256(json.dumps(prints).encode()).hexdigest())


def check_compatible(manifest: dict, *, pseudonymise: bool, key_id: str, where: str) -> None:
    """Refuse to mix pseudonymised and clear data, or two pseudonymisation keys, in one store."""
    if manifest.get("pseudonymised", True) != pseudonymise:
        raise BundleError(
            f"{where} was loaded with pseudonymise={manifest.get('pseudonymised')}; refusing to mix it with pseudonymise={pseudonymise}"
        )
    if pseudonymise and manifest.get("key_id") not in (None, key_id):
        raise BundleError(
            f"{where} was pseudonymised with another key (key id {manifest.get('key_id')}); this load's key id is {key_id}. "
            "Use the same key (GRAPHKIT_PSEUDO_KEY) or a new store."
        )


def _merge(old: pd.DataFrame | None, new: pd.DataFrame, table: str) -> pd.DataFrame:
    """Upsert ``new`` into ``old`` by primary key (claim_items: replace per claim)."""
    if old is None or old.empty:
        merged = new
    else:
        spec = TABLES[table]
        if spec.primary_key:
            keys = list(spec.primary_key)
            if len(keys) > 1:
                key_new = pd.MultiIndex.from_frame(new[keys].astype("string"))
                key_old = pd.MultiIndex.from_frame(old[keys].astype("string"))
                old = old.loc[~key_old.isin(key_new)]
            else:
                old = old.loc[~isin(old[keys[0]], new[keys[0]])]
        else:  # claim_items: a claim's items are replaced as a whole
            old = old.loc[~isin(old["claim_id"], new["claim_id"])]
        for c in new.columns:
            if c not in old.columns:
                old = old.assign(**{c: pd.Series(pd.NA, index=old.index, dtype=new[c].dtype)})
        for c in old.columns:
            if c not in new.columns:
                new = new.assign(**{c: pd.Series(pd.NA, index=new.index, dtype=old[c].dtype)})
        merged = pd.concat([old, new[old.columns]], ignore_index=True)
    spec = TABLES[table]
    sort_keys = list(spec.primary_key) or ["claim_id", "item_code"]
    if len(spec.primary_key) == 1 and merged[sort_keys[0]].is_monotonic_increasing:
        return merged.reset_index(drop=True)  # already in key order (exports usually are): no copy
    return merged.sort_values(sort_keys, kind="stable").reset_index(drop=True)


def load_bundle(
    bundle: str | Path,
    store: str | Path,
    *,
    lenient: bool = False,
    mapping: Mapping | str | Path | None = None,
    encoding: str | None = None,
    key: bytes | str | None = None,
    pseudonymise: bool = True,
    allow_demo_key: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> LoadResult:
    """Validate ``bundle`` and write it into the embedded store at ``store``.

    Strict (default): any validation issue raises :class:`BundleError` with the report and
    nothing is written. ``lenient=True``: bad rows are quarantined under
    ``store/quarantine/`` with their reasons and the rest is loaded. Loading the same bundle
    twice leaves the same content; a later bundle is merged in by primary key.
    """
    t0 = time.perf_counter()
    say = progress or (lambda _msg: None)
    store = Path(store)
    say("读取并校验 / reading and validating")
    ready = ready_bundle(bundle, known_keys=store_keys(store), mapping=mapping, encoding=encoding, lenient=lenient,
                         key=key, pseudonymise=pseudonymise, allow_demo_key=allow_demo_key, say=say)
    prepared, report, tables, p = ready.prepared, ready.prepared.report, ready.prepared.tables, ready.pseudonymiser
    prints, bundle_fp = ready.prints, ready.fingerprint
    say("合并写入 / merging and writing")
    old_store = EmbeddedStore(store) if (store / "manifest.json").exists() else None
    old_meta = old_store.manifest if old_store else {}
    if old_store:
        check_compatible(old_meta, pseudonymise=pseudonymise, key_id=p.key_id, where=f"store {store}")
    merged: dict[str, pd.DataFrame] = {}
    known_prints: dict[str, str] = {}
    for t in TABLE_ORDER:
        old = old_store.table(t) if old_store and old_store.has_table(t) else None
        if t in tables:
            merged[t] = _merge(old, tables[t], t)
            if old is None:  # nothing merged in: the content (and its fingerprint) is the bundle's
                known_prints[t] = prints[t]
        elif old is not None:
            merged[t] = old
    loads = list(old_meta.get("loads", []))
    entry = {
        "bundle": str(Path(bundle).resolve()),
        "bundle_fingerprint": bundle_fp,
        "rows": {t: int(len(df)) for t, df in tables.items()},
        "quarantined": {t: n for t, n in report.quarantined.items() if n},
        "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if not any(e.get("bundle_fingerprint") == bundle_fp for e in loads):
        loads.append(entry)
    qdir = None
    if prepared.quarantine:
        qdir = store / "quarantine" / bundle_fp[:12]
        qdir.mkdir(parents=True, exist_ok=True)
        quarantine, qreport = prepared.quarantine, report
        if pseudonymise:  # the quarantine lives in the store: no personal data in clear there either
            quarantine, qreport = _pseudonymise_quarantine(quarantine, report, p)
        for t, q in quarantine.items():
            q.to_csv(qdir / f"{t}.csv", index=False)
        (qdir / "report.txt").write_text(qreport.format(limit=200), "utf-8")
    EmbeddedStore.write(
        store,
        merged,
        fingerprints=known_prints,
        meta={"pseudonymised": pseudonymise, "key_id": p.key_id if pseudonymise else None, "loads": loads},
    )
    final = EmbeddedStore(store)
    return LoadResult(
        store=store,
        report=report,
        rows=final.row_counts(),
        bundle_fingerprint=bundle_fp,
        store_fingerprint=final.fingerprint,
        seconds=time.perf_counter() - t0,
        quarantine_dir=qdir,
    )
