"""Validation of a claims bundle exactly as the spec's Validation section says.

Every problem becomes an *issue* naming table, row (1-based, header excluded), column,
value and rule. Strict mode (default) writes nothing when any issue exists; lenient mode
quarantines the bad rows with their reasons (and, transitively, rows that refer to them)
and keeps the rest.

Tables are streamed in chunks of ``chunk_rows`` rows (default :data:`DEFAULT_CHUNK_ROWS`),
in dependency order, so a bundle larger than memory validates with bounded memory: every
chunk is typed and checked with the same rules; duplicate keys are found across chunks and
references are checked against the keys of the tables before it (held as :class:`KeySet`,
a compact exact set of keys), never against a whole table. Row numbers stay global.

Examples
--------
>>> from loaders.validate import validate_bundle
>>> report = validate_bundle("my-bundle")          # doctest: +SKIP
>>> print(report.format())                          # doctest: +SKIP
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping as MappingT

import numpy as np
import pandas as pd
import pyarrow as pa

from graphkit.errors import BundleError
from graphkit.schema import REQUIRED_TABLES, TABLE_ORDER, TABLES

from .bundle import Mapping, TableReader, WrongEncoding, locate_tables
from .checks import _REFERS_TO, Chunk, _Engine, _TableCheck
from .known import KnownKeys, store_known_keys
from .report import RULES, Issue, ValidationReport, _Collector

__all__ = [
    "Issue",
    "ValidationReport",
    "validate_bundle",
    "prepare_bundle",
    "stream_bundle",
    "Chunk",
    "Sink",
    "KnownKeys",
    "RULES",
    "DEFAULT_CHUNK_ROWS",
]

#: rows per chunk when streaming a table (``chunk_rows=None``); ``chunk_rows=0`` reads whole tables
DEFAULT_CHUNK_ROWS = 1_000_000


@dataclass
class Prepared:
    """Typed, validated tables ready to write, plus the report and the quarantined rows."""

    tables: dict[str, pd.DataFrame]
    report: ValidationReport
    quarantine: dict[str, pd.DataFrame]


class Sink:
    """Receives a bundle table by table, chunk by chunk (this base class keeps nothing)."""

    #: whether :attr:`Chunk.hashes` should be filled (a sink that fingerprints wants them)
    wants_hashes = False
    #: strict mode: whether chunks stop coming after the first issue (a store discards them anyway)
    stops_on_issue = True

    def begin(self, table: str, columns: list[str], source_types: dict[str, pa.DataType]) -> None:
        """A table starts (again, when a CSV file is re-read in another encoding)."""

    def chunk(self, chunk: Chunk) -> None:
        """The next validated chunk of the current table."""

    def end(self, table: str, malformed: pd.DataFrame | None) -> None:
        """The table is complete; ``malformed``: its unsplittable rows (lenient; ``_row``, ``_reason``, ``_text``)."""


def _prefetch(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Iterate ``items`` in a helper thread, ``depth`` items ahead (reading and decoding a chunk
    — Arrow, without the GIL — overlaps with checking the previous one)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for x in items:
                if not put(("item", x)):
                    break
            else:
                put(("done", None))
        except BaseException as exc:  # re-raised in the consuming thread
            put(("error", exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name="graphkit-load-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, x = q.get()
            if kind == "item":
                yield x
            elif kind == "done":
                return
            else:
                raise x
    finally:
        stop.set()
        thread.join()


#: the big fact tables whose chunk boundaries keep one claim's rows together
_HOLD_BACK = {"claim_items": "claim_id"}


def _resolve_chunk_rows(chunk_rows: int | None) -> int | None:
    if chunk_rows is None:
        return DEFAULT_CHUNK_ROWS
    return None if chunk_rows <= 0 else int(chunk_rows)


def stream_bundle(
    bundle: str | Path,
    *,
    mapping: Mapping | str | Path | None = None,
    encoding: str | None = None,
    lenient: bool = False,
    known: KnownKeys | MappingT[str, Any] | None = None,
    chunk_rows: int | None = None,
    sink: Sink | None = None,
    progress: Callable[[str], None] | None = None,
) -> ValidationReport:
    """Validate a bundle table by table in chunks and hand every validated chunk to ``sink``.

    ``chunk_rows``: rows per chunk (``None``: :data:`DEFAULT_CHUNK_ROWS`; ``0``: whole tables).
    ``known``: keys already in the target store (references may point at them). In strict
    mode (``lenient=False``) the sink stops getting chunks after the first issue; the report
    still lists every issue. Returns the report; raising on issues is the caller's choice.

    >>> import tempfile, pathlib
    >>> b = pathlib.Path(tempfile.mkdtemp())
    >>> stream_bundle(b).issue_list()[0].rule
    'missing_table'
    """
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.load(mapping)
    rows_per = _resolve_chunk_rows(chunk_rows)
    sink = sink or Sink()
    say = progress or (lambda _msg: None)
    files = locate_tables(bundle, mapping)
    engine = _Engine(lenient, known if isinstance(known, KnownKeys) else KnownKeys(known), sink.wants_hashes)
    issues = _Collector()
    for t in REQUIRED_TABLES:
        if t not in files:
            issues.add(t, [], None, None, "missing_table")
    report = ValidationReport(bundle=str(bundle), issues=issues.frame(), lenient=lenient)
    n_issues = len(issues.parts)
    for t in TABLE_ORDER:
        if t not in files:
            continue
        say(f"校验 {t} / validating {t}")
        reader = TableReader(files[t], t, encoding=encoding, mapping=mapping)
        last: Exception | None = None
        for enc in reader.encodings:
            check = _TableCheck(TABLES[t], reader.columns, engine)
            stops = not lenient and sink.stops_on_issue
            writing = not stops or (n_issues == 0 and not check.issues.parts)
            if writing:
                sink.begin(t, reader.columns, reader.source_types)
            try:
                for raw in _prefetch(reader.chunks(rows_per, enc, hold_back=_HOLD_BACK.get(t))):
                    chunk = check.process(raw)
                    writing = writing and (not stops or not check.issues.parts)
                    if writing:
                        sink.chunk(chunk)
            except WrongEncoding as exc:
                last = exc
                continue
            break
        else:
            tried = [encoding] if encoding else ["utf-8", "gb18030"]
            raise BundleError(f"table {t}: file {files[t].name} is neither valid UTF-8 nor GB18030 (tried {tried}; {last})")
        if writing:
            sink.end(t, check.malformed_frame() if lenient else None)
        issues.parts += check.issues.parts
        n_issues = len(issues.parts)
        if check.kept_keys is not None and len(TABLES[t].primary_key) == 1:
            engine.ref_sets[t] = check.kept_keys
        if t == "patients" and check.birth_days:
            engine.birth_days = np.concatenate(check.birth_days)
        for r in list(engine.ref_sets):  # keys no later table of the bundle refers to are dropped
            if not any(r in _REFERS_TO[u] for u in TABLE_ORDER[TABLE_ORDER.index(t) + 1:] if u in files):
                del engine.ref_sets[r]
        report.rows_read[t] = check.rows_read
        report.rows_kept[t] = check.rows_kept
        if not reader.parquet:
            report.encodings[t] = enc  # type: ignore[assignment]
    frame = issues.frame()
    if not frame.empty:
        order = {t: i for i, t in enumerate(TABLE_ORDER)}
        frame = frame.assign(_o=frame["table"].map(order)).sort_values(["_o", "row"], kind="stable").drop(columns="_o")
        frame = frame.reset_index(drop=True)
    report.issues = frame
    return report


class _Collect(Sink):
    """Keeps every chunk in memory (what :func:`prepare_bundle` returns)."""

    stops_on_issue = False

    def __init__(self) -> None:
        self.frames: dict[str, list[pd.DataFrame]] = {}
        self.quarantine: dict[str, list[pd.DataFrame]] = {}
        self.columns: dict[str, list[str]] = {}

    def begin(self, table: str, columns: list[str], source_types: dict[str, pa.DataType]) -> None:
        self.frames[table], self.quarantine[table], self.columns[table] = [], [], columns

    def chunk(self, chunk: Chunk) -> None:
        self.frames[chunk.table].append(chunk.frame)
        if chunk.quarantine is not None:
            self.quarantine[chunk.table].append(chunk.quarantine)

    def end(self, table: str, malformed: pd.DataFrame | None) -> None:
        parts = self.quarantine.pop(table)
        if parts or malformed is not None:
            q = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["_row", "_reason", *self.columns[table]])
            if malformed is not None:
                q = pd.concat([q, malformed], ignore_index=True)
            self.quarantine[table] = q


def prepare_bundle(
    bundle: str | Path,
    *,
    mapping: Mapping | str | Path | None = None,
    encoding: str | None = None,
    lenient: bool = False,
    known_keys: MappingT[str, Any] | KnownKeys | None = None,
    chunk_rows: int | None = None,
) -> Prepared:
    """Read, type and validate a bundle into memory (what the Neo4j loader writes from).

    ``known_keys`` holds primary keys already in the target store, so a later bundle may
    refer to entities loaded before. Validation streams in chunks (see :func:`stream_bundle`);
    the validated tables are returned whole.
    """
    sink = _Collect()
    report = stream_bundle(bundle, mapping=mapping, encoding=encoding, lenient=lenient, known=known_keys,
                           chunk_rows=chunk_rows, sink=sink)
    tables = {}
    for t, parts in sink.frames.items():
        tables[t] = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    return Prepared(tables, report, {t: q for t, q in sink.quarantine.items() if isinstance(q, pd.DataFrame)})


def validate_bundle(
    bundle: str | Path,
    *,
    mapping: Mapping | str | Path | None = None,
    encoding: str | None = None,
    store: str | Path | None = None,
    chunk_rows: int | None = None,
    sink: Sink | None = None,
) -> ValidationReport:
    """Validate a bundle folder and return the report (nothing is written; memory-bounded).

    ``store``: an existing store whose entities the bundle may refer to. ``sink``: receives
    the validated chunks (e.g. :class:`graphkit.profile.ProfileSink` to profile the data).
    """
    known = store_known_keys(store) if store is not None else None
    return stream_bundle(bundle, mapping=mapping, encoding=encoding, known=known, chunk_rows=chunk_rows, sink=sink)
