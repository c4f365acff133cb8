"""Load a validated bundle into the embedded store (atomic, idempotent, additive).

Loading streams: every table is validated in chunks of ``chunk_rows`` rows (see
:mod:`loaders.validate`); the big fact tables (``claims``, ``claim_items``) go chunk by
chunk to Parquet in the new generation, sorted by key, so a bundle larger than memory loads
with bounded memory. A chunk that does not continue the key order starts a new sorted run;
runs (and, on a later load, the previous generation's rows minus those the bundle replaces)
are merged by a streaming k-way merge. The smaller tables are merged in memory.

Examples
--------
>>> from loaders import load_bundle                  # doctest: +SKIP
>>> result = load_bundle("bundle", "store", chunk_rows=500_000)  # doctest: +SKIP
>>> result.rows["claims"]                             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import queue
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graphkit._fast import KeySet, arrow_strings, isin, string_series
from graphkit.errors import BundleError
from graphkit.guard.client import pseudonymiser_for
from graphkit.pseudo import Pseudonymiser
from graphkit.schema import PERSONAL_FIELDS, REQUIRED_TABLES, TABLE_ORDER, TABLES
from graphkit.outputs import claim_output_dir, csv_safe
from graphkit.store.lock import writer_lock
from graphkit.store.embedded import (
    EmbeddedStore,
    GenerationWriter,
    TableWriter,
    conform,
    fingerprint_from_hashes,
    row_hashes,
    table_fingerprint,
)

from .bundle import Mapping, locate_tables
from .personal import (  # noqa: F401  (pseudonymise_tables and personal_columns: public here too)
    _pseudonymise_quarantine_frame,
    _pseudonymise_report,
    _tokens,
    personal_columns,
    pseudonymise_tables,
)
from .sorted_runs import (  # noqa: F401  (merge_sorted: public here too)
    _ARROW,
    _extra_type,
    _is_sorted,
    _key_at,
    _less,
    _sort_keys,
    _sort_order,
    _sorted,
    merge_sorted,
)
from .known import store_keys, store_known_keys  # noqa: F401  (public here too)
from .report import Issue
from .validate import Chunk, Prepared, Sink, ValidationReport, prepare_bundle, stream_bundle

__all__ = ["LoadResult", "load_bundle", "store_keys", "store_known_keys", "pseudonymise_tables", "FACT_TABLES"]

#: tables streamed chunk by chunk to disk; the others are merged in memory
FACT_TABLES = ("claims", "claim_items")


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
    profile: dict[str, Any] | None = None  # what the loaded store supports (graphkit.profile.data_profile)


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
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.load(mapping)
    say("读取并校验 / reading and validating")
    prepared = prepare_bundle(bundle, mapping=mapping, encoding=encoding, lenient=lenient, known_keys=known_keys)
    if not prepared.report.ok and not lenient:
        raise BundleError(prepared.report.format(), issues=prepared.report.issue_list())
    p = pseudonymiser_for(bundle, key, allow_demo_key=allow_demo_key)  # the guard holds the key where one runs
    if pseudonymise:
        say("假名化 / pseudonymising personal fields")
        pseudonymise_tables(prepared.tables, p, mapping.not_personal if mapping is not None else None)
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
    """Upsert ``new`` into ``old`` by primary key (claim_items: replace per claim), in key order."""
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
    sort_keys = _sort_keys(table)
    if len(sort_keys) == 1 and merged[sort_keys[0]].is_monotonic_increasing:
        return merged.reset_index(drop=True)  # already in key order (exports usually are): no copy
    keys = pa.table({k: pa.array(merged[k], from_pandas=True) for k in sort_keys})
    return merged.take(_sort_order(keys, sort_keys)).reset_index(drop=True)  # (stable, as sort_values)


class _FactTable:
    """One fact table of a load: sorted runs written as chunks arrive, merged at the end."""

    def __init__(self, sink: "_StoreSink", table: str) -> None:
        self.sink, self.table = sink, table
        self.keys = _sort_keys(table)
        self.schema: pa.Schema | None = None
        self.runs: list[TableWriter] = []
        self.last: tuple | None = None
        self.rows = 0
        # what this bundle replaces in the store: its claim ids (claims) / the claims it has items for
        self.new_keys = KeySet()

    def _schema(self, frame: pd.DataFrame) -> pa.Schema:
        spec = TABLES[self.table]
        fields = []
        for c in frame.columns:
            if c in spec.column_names:
                fields.append(pa.field(c, _ARROW[spec.column(c).type]))
            else:
                fields.append(pa.field(c, _extra_type(self.sink.source_types.get(c))))
        return pa.schema(fields)

    def add(self, frame: pd.DataFrame, hashes: np.ndarray) -> None:
        if self.schema is None:
            self.schema = self._schema(frame)
        if len(frame) == 0:
            return
        try:
            tbl = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise BundleError(f"table {self.table}: a column could not be stored with one type across chunks: {exc}") from None
        if not _is_sorted(tbl, self.keys):
            order = _sort_order(tbl, self.keys)
            tbl = tbl.take(pa.array(order))
            hashes = hashes[order]
        first = _key_at(tbl, self.keys, 0)
        if not self.runs or (self.last is not None and first < self.last):
            if self.runs:
                self.runs[-1].finish()
            path = self.sink.gen.dir / f".{self.table}.run{len(self.runs):04d}.parquet"
            self.runs.append(self.sink.gen.open_table(self.table, self.schema, path=path))
        self.runs[-1].write(tbl, hash_rows=False)  # (the bundle's row hashes are kept by the sink)
        self.last = _key_at(tbl, self.keys, tbl.num_rows - 1)
        self.rows += tbl.num_rows
        if self.sink.old is not None and self.sink.old.has_table(self.table):
            ids = tbl.column("claim_id")
            self.new_keys.add(ids if self.table == "claims" else pc.unique(ids))

    def finish(self, bundle_print: str) -> None:
        """Write ``<table>.parquet`` of the new generation: the runs, merged with what the
        previous generation keeps of this table."""
        gen, old = self.sink.gen, self.sink.old
        if self.schema is None:  # (cannot happen: every table yields at least one chunk)
            raise BundleError(f"table {self.table}: no chunk was read")
        for w in self.runs:
            w.finish()
        final = gen.dir / f"{self.table}.parquet"
        has_old = old is not None and old.has_table(self.table)
        if not has_old and len(self.runs) <= 1:
            if self.runs:
                self.runs[0].path.replace(final)
                gen._register(self.table, final, self.rows, list(self.schema.names), bundle_print)
            else:
                w = gen.open_table(self.table, self.schema)
                w.close(bundle_print)
            return
        schema = self.schema
        streams: list[Iterator[pa.Table]] = []
        batch = max(65536, (self.sink.chunk_rows or (1 << 20)) // (len(self.runs) + 1))
        if has_old:
            assert old is not None
            old_schema = pq.read_schema(old.table_file(self.table))
            schema = pa.schema(list(old_schema) + [f for f in self.schema if f.name not in old_schema.names])
            streams.append(self._old_rows(schema, batch))
        for w in self.runs:
            streams.append(self._run_rows(w.path, schema, batch))
        out = gen.open_table(self.table, schema)
        group = max(self.sink.chunk_rows or (1 << 20), 1 << 16)  # rows per row group written
        pending: list[pa.Table] = []
        have = 0
        for piece in merge_sorted(streams, self.keys):
            pending.append(piece)
            have += piece.num_rows
            if have >= group:
                out.write(pa.concat_tables(pending), hash_rows=has_old)
                pending, have = [], 0
        if pending:
            out.write(pa.concat_tables(pending), hash_rows=has_old)
        out.close(None if has_old else bundle_print)
        for w in self.runs:
            w.path.unlink(missing_ok=True)

    def _old_rows(self, schema: pa.Schema, batch: int) -> Iterator[pa.Table]:
        """The previous generation's rows that this bundle does not replace."""
        assert self.sink.old is not None
        for tbl in self.sink.old.iter_table(self.table, batch_rows=batch):
            drop = self.new_keys.contains(tbl.column("claim_id")) if len(self.new_keys) else None
            if drop is not None and drop.any():
                tbl = tbl.filter(pa.array(~drop))
            if tbl.num_rows:
                yield conform(tbl, schema)

    @staticmethod
    def _run_rows(path: Path, schema: pa.Schema, batch: int) -> Iterator[pa.Table]:
        for b in pq.ParquetFile(path).iter_batches(batch_size=batch):
            yield conform(pa.Table.from_batches([b]), schema)

    def discard(self) -> None:
        for w in self.runs:
            w.finish()
            w.path.unlink(missing_ok=True)
        self.runs = []


class _StoreSink(Sink):
    """Writes validated chunks into a new generation of an embedded store."""

    wants_hashes = True

    def __init__(self, gen: GenerationWriter, old: EmbeddedStore | None, p: Pseudonymiser, *, pseudonymise: bool,
                 chunk_rows: int | None, not_personal: dict[str, list[str]] | None = None) -> None:
        self.gen, self.old, self.p, self.pseudonymise = gen, old, p, pseudonymise
        self.not_personal = not_personal or {}  # the mapping file's [not_personal]
        self.chunk_rows = chunk_rows
        self.prints: dict[str, str] = {}
        self.rows: dict[str, int] = {}
        self.source_types: dict[str, pa.DataType] = {}
        self._columns: list[str] = []
        self._hashes: list[np.ndarray] = []
        self._frames: list[pd.DataFrame] = []
        self._fact: _FactTable | None = None
        self._frame_columns: list[str] | None = None
        self.qtmp = gen.root / "quarantine" / f".partial-{gen.name}"
        self._qfiles: dict[str, Path] = {}

    # -- chunks ------------------------------------------------------------------------
    def begin(self, table: str, columns: list[str], source_types: dict[str, pa.DataType]) -> None:
        if self._fact is not None:  # a restart (another encoding): drop what was written
            self._fact.discard()
        self._fact = _FactTable(self, table) if table in FACT_TABLES else None
        self._columns, self.source_types = columns, source_types
        self._hashes, self._frames, self._frame_columns = [], [], None
        self._qfiles.pop(table, None)
        (self.qtmp / f"{table}.rows.csv").unlink(missing_ok=True)

    def chunk(self, chunk: Chunk) -> None:
        t, frame, known = chunk.table, chunk.frame, chunk.hashes
        if self.pseudonymise and t in PERSONAL_FIELDS and len(frame):
            frame = frame.copy()
            pseudonymise_tables({t: frame}, self.p, self.not_personal)
            gone = set(personal_columns(t, list(frame.columns), self.not_personal)) | {"birth_date"}  # coarsened
            known = {c: h for c, h in known.items() if c not in gone}
        if self._frame_columns is None:
            self._frame_columns = list(frame.columns)
        h = row_hashes(frame, known) if len(frame) else np.zeros(0, np.uint64)
        self._hashes.append(h)
        if self._fact is not None:
            self._fact.add(frame, h)
        else:
            self._frames.append(frame)
        if chunk.quarantine is not None and len(chunk.quarantine):
            q = (_pseudonymise_quarantine_frame(t, chunk.quarantine, self.p, self.not_personal) if self.pseudonymise
                 else chunk.quarantine)
            path = self.qtmp / f"{t}.rows.csv"
            if not path.exists():
                self.qtmp.mkdir(parents=True, exist_ok=True)
                csv_safe(q).to_csv(path, index=False)  # raw input text: CSV-injection safe
            else:
                csv_safe(q).to_csv(path, index=False, header=False, mode="a")
            self._qfiles[t] = path

    def end(self, table: str, malformed: pd.DataFrame | None) -> None:
        cols = self._frame_columns or []
        hashes = np.concatenate(self._hashes) if self._hashes else np.zeros(0, np.uint64)
        self.prints[table] = fingerprint_from_hashes(cols, hashes)
        self.rows[table] = int(len(hashes))
        self._hashes = []
        old_has = self.old is not None and self.old.has_table(table)
        if self._fact is not None:
            self._fact.finish(self.prints[table])
            self._fact = None
        else:
            new = pd.concat(self._frames, ignore_index=True) if len(self._frames) > 1 else self._frames[0].reset_index(drop=True)
            self._frames = []
            old = self.old.table(table) if (self.old is not None and old_has) else None
            merged = _merge(old, new, table)
            # nothing merged in: the content (and its fingerprint) is the bundle's
            self.gen.add_table(table, merged, fingerprint=None if old_has else self.prints[table])
        self._finish_quarantine(table, malformed)

    # -- quarantine --------------------------------------------------------------------
    def _finish_quarantine(self, table: str, malformed: pd.DataFrame | None) -> None:
        rows = self._qfiles.get(table)
        final = self.qtmp / f"{table}.csv"
        if malformed is None:
            if rows is not None:
                rows.replace(final)
                self._qfiles[table] = final
            return
        if self.pseudonymise:
            malformed = _pseudonymise_quarantine_frame(table, malformed, self.p, self.not_personal)
        self.qtmp.mkdir(parents=True, exist_ok=True)
        if rows is None:
            header = ["_row", "_reason", *self._columns, "_text"]
            csv_safe(malformed.reindex(columns=header)).to_csv(final, index=False)
        else:  # row-level rows first, then the malformed ones, under one header ending in _text
            first = True
            for part in pd.read_csv(rows, dtype=str, keep_default_na=False, chunksize=200_000):
                header = [*part.columns, "_text"]
                part.assign(_text="").to_csv(final, index=False, header=first, mode="w" if first else "a")  # already safe
                first = False
            csv_safe(malformed.reindex(columns=header)).to_csv(final, index=False, header=False, mode="a")
            rows.unlink()
        self._qfiles[table] = final

    def publish_quarantine(self, bundle_fp: str, report: ValidationReport) -> Path | None:
        """Move this load's quarantine files to ``quarantine/<bundle fingerprint>/`` with the report."""
        if not self._qfiles:
            return None
        qdir = self.gen.root / "quarantine" / bundle_fp[:12]
        if qdir.exists():
            shutil.rmtree(qdir)
        self.qtmp.replace(qdir)
        qreport = _pseudonymise_report(report, self.p) if self.pseudonymise else report
        (qdir / "report.txt").write_text(qreport.format(limit=200), "utf-8")
        return qdir

    def discard(self) -> None:
        if self._fact is not None:
            self._fact.discard()
        shutil.rmtree(self.qtmp, ignore_errors=True)
        try:
            self.qtmp.parent.rmdir()  # the quarantine folder, if this load created it and it is empty
        except OSError:
            pass


class _Background(Sink):
    """Runs a sink in a helper thread, at most ``depth`` calls behind the validating thread
    (pseudonymising, hashing, sorting and Parquet writing overlap with reading and checking)."""

    def __init__(self, sink: Sink, depth: int = 1) -> None:
        self.inner = sink
        self.wants_hashes, self.stops_on_issue = sink.wants_hashes, sink.stops_on_issue
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._cancel = False
        self._thread = threading.Thread(target=self._run, name="graphkit-load-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            if self._cancel or self._error is not None:
                continue
            name, args = item
            try:
                getattr(self.inner, name)(*args)
            except BaseException as exc:  # re-raised in the validating thread
                self._error = exc

    def _put(self, item: Any) -> None:
        if self._error is not None:
            raise self._error
        while True:
            try:
                self._q.put(item, timeout=0.2)
                return
            except queue.Full:
                if self._error is not None:
                    raise self._error from None

    def begin(self, table: str, columns: list[str], source_types: dict[str, pa.DataType]) -> None:
        self._put(("begin", (table, columns, source_types)))

    def chunk(self, chunk: Chunk) -> None:
        self._put(("chunk", (chunk,)))

    def end(self, table: str, malformed: pd.DataFrame | None) -> None:
        self._put(("end", (table, malformed)))

    def close(self, *, cancel: bool = False) -> None:
        """Wait for the queued work (``cancel``: skip it); re-raise the sink's error."""
        self._cancel = self._cancel or cancel
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        if self._error is not None and not cancel:
            raise self._error


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
    chunk_rows: int | None = None,
) -> LoadResult:
    r"""Validate ``bundle`` and write it into the embedded store at ``store``.

    Strict (default): any validation issue raises :class:`BundleError` with the report and
    nothing is written. ``lenient=True``: bad rows are quarantined under
    ``store/quarantine/`` with their reasons and the rest is loaded. Loading the same bundle
    twice leaves the same content; a later bundle is merged in by primary key.

    ``chunk_rows``: rows read, validated and written at a time (``None``: the default of
    :data:`loaders.validate.DEFAULT_CHUNK_ROWS`, 1,000,000; ``0``: whole tables). Memory
    grows with the chunk size and the number of keys, not with the bundle; the result does
    not depend on it.

    >>> import tempfile, pathlib
    >>> b = pathlib.Path(tempfile.mkdtemp())
    >>> for name, text in {"institutions": "institution_id\nH1\n", "doctors": "doctor_id\nD1\n",
    ...                    "patients": "patient_id,name\nP1,张三\n", "cards": "card_id,patient_id\nK1,P1\n",
    ...                    "claims": "claim_id,card_id,patient_id,claim_type,institution_id,start_time,total_amount,fund_amount\n"
    ...                              "C1,K1,P1,outpatient,H1,2024-01-05 09:00,100,80\n"}.items():
    ...     _ = (b / f"{name}.csv").write_text(text, "utf-8")
    >>> res = load_bundle(b, tempfile.mkdtemp(), chunk_rows=500_000, allow_demo_key=True)
    >>> res.rows["claims"], res.report.ok
    (1, True)
    """
    t0 = time.perf_counter()
    store = Path(store)
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.load(mapping)
    found = locate_tables(bundle, mapping)  # a missing bundle folder fails before anything is created
    missing = [t for t in REQUIRED_TABLES if t not in found]
    if missing and not lenient:  # before the key is asked for: the bundle is unusable either way
        issues = [Issue(t, None, None, None, "missing_table") for t in missing]
        frame = pd.DataFrame([{**dataclasses.asdict(i), "message": i.message} for i in issues])
        report = ValidationReport(bundle=str(bundle), issues=frame)
        raise BundleError(f"{report.format()}\n数据包缺少必需的表 / the bundle lacks required table(s): {', '.join(missing)} "
                          f"(looked for NAME.parquet, NAME.csv.gz, NAME.csv)", issues=issues)
    claim_output_dir(store, "store")  # never write generations into a folder that is not a store
    p = pseudonymiser_for(bundle, key, allow_demo_key=allow_demo_key, store=store)  # the guard holds the key where one runs
    created = not store.exists()
    with writer_lock(store, what=f"load {Path(bundle).name}"):
        return _load_locked(bundle, store, p, created=created, lenient=lenient, mapping=mapping, encoding=encoding,
                            pseudonymise=pseudonymise, progress=progress, chunk_rows=chunk_rows, t0=t0)


def _load_locked(bundle: str | Path, store: Path, p: Pseudonymiser, *, created: bool, lenient: bool,
                 mapping: Mapping | None, encoding: str | None, pseudonymise: bool,
                 progress: Callable[[str], None] | None, chunk_rows: int | None, t0: float) -> LoadResult:
    """:func:`load_bundle` under the store's writer lock."""
    say = progress or (lambda _msg: None)
    old_store = EmbeddedStore(store) if (store / "manifest.json").exists() else None
    old_meta = old_store.manifest if old_store else {}
    if old_store:
        check_compatible(old_meta, pseudonymise=pseudonymise, key_id=p.key_id, where=f"store {store}")
    for stale in (store / "quarantine").glob(".partial-*") if store.is_dir() else ():
        shutil.rmtree(stale, ignore_errors=True)  # left by a crashed lenient load
    try:
        gen = GenerationWriter(store, created_root=created)
    except BaseException:
        if created:
            shutil.rmtree(store, ignore_errors=True)
        raise
    declared = mapping.not_personal if mapping is not None else {}
    sink = _StoreSink(gen, old_store, p, pseudonymise=pseudonymise, chunk_rows=chunk_rows, not_personal=declared)
    background = _Background(sink)
    try:
        say("读取、校验并写入 / reading, validating and writing")
        try:
            report = stream_bundle(bundle, mapping=mapping, encoding=encoding, lenient=lenient,
                                   known=store_known_keys(old_store), chunk_rows=chunk_rows, sink=background, progress=say)
        except BaseException:
            background.close(cancel=True)
            raise
        background.close(cancel=not (report.ok or lenient))
        if not report.ok and not lenient:
            raise BundleError(report.format(), issues=report.issue_list())
        if old_store:  # tables this bundle does not touch are carried over unchanged
            for t in old_store.manifest["tables"]:
                if t not in gen.tables:
                    gen.link_table(t, old_store)
        bundle_fp = hashlib.sha256(json.dumps(dict(sorted(sink.prints.items()))).encode()).hexdigest()
        loads = list(old_meta.get("loads", []))
        entry = {
            "bundle": str(Path(bundle).resolve()),
            "bundle_fingerprint": bundle_fp,
            "rows": {t: sink.rows[t] for t in TABLE_ORDER if t in sink.rows},
            "quarantined": {t: n for t, n in report.quarantined.items() if n},
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **({"not_personal": declared} if declared and pseudonymise else {}),  # kept clear by declaration
        }
        if not any(e.get("bundle_fingerprint") == bundle_fp for e in loads):
            loads.append(entry)
        qdir = sink.publish_quarantine(bundle_fp, report) if lenient else None
        say("提交 / committing")
        if old_store:
            old_store.release()  # read no more: let the commit remove its generation
        gen.commit({"pseudonymised": pseudonymise, "key_id": p.key_id if pseudonymise else None, "loads": loads})
    except BaseException:
        sink.discard()
        gen.abort()
        if old_store:
            old_store.release()  # the traceback may keep the object alive; its pin must not
        raise
    final = EmbeddedStore(store)
    say("数据概况 / profiling the data")
    profile = final.save_profile()
    return LoadResult(
        store=store,
        report=report,
        rows=final.row_counts(),
        bundle_fingerprint=bundle_fp,
        store_fingerprint=final.fingerprint,
        seconds=time.perf_counter() - t0,
        quarantine_dir=qdir,
        profile=profile,
    )
