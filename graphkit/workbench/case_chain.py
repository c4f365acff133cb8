"""Case changes in the signed audit chain: the case SQLite cannot be edited unnoticed.

Every transaction of :class:`~graphkit.workbench.cases.CaseStore` that changes a case appends
one ``case_change`` entry to the audit log (before it commits; a refused append rolls the
change back) holding the database's id (a random id in its ``meta`` table), the case id, the
SHA-256 of each new row of its ``audit`` table, and the SHA-256 of the case's whole state
afterwards (case row, findings, entities, claims). :func:`verify_cases` recomputes both from
the SQLite file: an audit row edited, deleted or inserted with ``sqlite3``, or a status,
note, finding, entity or claim changed behind graphkit's back, is reported.

Examples
--------
>>> import os, tempfile
>>> from graphkit.audit import AuditLog
>>> from graphkit.workbench.cases import CaseStore
>>> d = tempfile.mkdtemp()
>>> cs = CaseStore(os.path.join(d, "cases.sqlite"), audit=AuditLog(os.path.join(d, "audit.jsonl")))
>>> c = cs.create("案 / case", actor="wang")
>>> cs.verify()
[]
>>> import sqlite3; db = sqlite3.connect(cs.path); _ = db.execute("UPDATE cases SET status='dismissed'"); db.commit(); db.close()
>>> cs.verify()  # doctest: +ELLIPSIS
['case #1: its state differs from the last change recorded in the audit log ...']
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

from ..audit import canonical

__all__ = ["row_digest", "state_digest", "verify_cases", "recorders", "ACTION"]

ACTION = "case_change"
_AUDIT_COLS = "id, case_id, at, actor, action, field, old, new"


def row_digest(row: tuple[Any, ...]) -> str:
    """SHA-256 of one ``audit`` row ``(id, case_id, at, actor, action, field, old, new)``."""
    return hashlib.sha256(canonical(list(row))).hexdigest()


def state_digest(db: sqlite3.Connection, case_id: int) -> str:
    """SHA-256 of everything a case holds (absent case: of an empty state)."""
    q = {
        "case": "SELECT id, title, status, assignee, notes, store_fingerprint, created_at, created_by, updated_at, "
                "updated_by FROM cases WHERE id=?",
        "findings": "SELECT finding_id, kind, score, amount, snapshot, added_at FROM case_findings WHERE case_id=? ORDER BY finding_id",
        "entities": "SELECT type, entity_id, role, manual FROM case_entities WHERE case_id=? ORDER BY type, entity_id",
        "claims": "SELECT claim_id, manual FROM case_claims WHERE case_id=? ORDER BY claim_id",
    }
    state = {k: [list(r) for r in db.execute(sql, (int(case_id),))] for k, sql in q.items()}
    return hashlib.sha256(canonical(state)).hexdigest()


def verify_cases(db: sqlite3.Connection, db_id: str, records: list[dict[str, Any]], case_id: int | None = None) -> list[str]:
    """Problems found comparing the SQLite file with the chain's ``case_change`` records of ``db_id``
    (``records``: audit-log entries, oldest first); empty when everything matches."""
    want_rows: dict[int, tuple[int, str]] = {}
    last_state: dict[int, str] = {}
    by = recorders(records, db_id)
    for e in records:
        d = e["details"]
        if d.get("cases_db") != db_id:
            continue
        cid = int(d["case_id"])
        last_state[cid] = d["state_sha256"]
        for rid, digest in d.get("rows", []):
            want_rows[int(rid)] = (cid, digest)
    where, args = ("", ()) if case_id is None else (" WHERE case_id=?", (int(case_id),))
    have = {int(r[0]): r for r in db.execute(f"SELECT {_AUDIT_COLS} FROM audit{where} ORDER BY id", args)}
    cases = {int(r[0]) for r in db.execute(f"SELECT id FROM cases{where.replace('case_id', 'id')}", args)}
    problems = []
    for rid, (cid, digest) in sorted(want_rows.items()):
        if case_id is not None and cid != int(case_id):
            continue
        if rid not in have:
            problems.append(f"case #{cid}: audit row {rid} recorded in the audit log is gone from the case database")
        elif row_digest(have[rid]) != digest:
            problems.append(f"case #{cid}: audit row {rid} was edited after it was recorded")
        elif (named := _named_account(str(have[rid][3]))) is not None and named != _account_of(by.get(rid, "")):
            # the row speaks for an account (``account (display: name)``) other than the one that
            # recorded it: a change recorded by hand (e.g. through the guard's socket) under another's name
            problems.append(f"case #{cid}: audit row {rid} names account {named} but was recorded by account {by.get(rid)}")
    for rid, row in sorted(have.items()):
        if rid not in want_rows:
            problems.append(f"case #{row[1]}: audit row {rid} ({row[4]} by {row[3]}) is not in the audit log (inserted by hand)")
    for cid in sorted(cases | set(last_state)) if case_id is None else [int(case_id)]:
        if cid not in last_state:
            problems.append(f"case #{cid}: no change of this case is recorded in the audit log (made outside graphkit)")
        elif state_digest(db, cid) != last_state[cid]:
            what = "deleted" if cid not in cases else "differs from the last change recorded in the audit log"
            problems.append(f"case #{cid}: its state {what} (edited outside graphkit)")
    return problems


def recorders(records: list[dict[str, Any]], db_id: str) -> dict[int, str]:
    """Audit row id → the account that recorded it in the chain (the guard's caller, by its kernel
    credentials, where a guard keeps the log): who really acted, whatever the row's ``actor`` says.

    >>> recorders([{"actor": "ana", "details": {"cases_db": "d1", "rows": [[3, "x"], [4, "y"]]}}], "d1")
    {3: 'ana', 4: 'ana'}
    """
    out: dict[int, str] = {}
    for e in records:
        d = e.get("details") or {}
        if d.get("cases_db") == db_id:
            for rid, _digest in d.get("rows", []):
                out[int(rid)] = str(e.get("actor") or "")
    return out


def _account_of(actor: str) -> str:
    """The account of an actor as the chain records it: the guard writes the bare account, a local
    log the workbench's label (``ana (display: 张伟)``)."""
    return _named_account(actor) or actor


def _named_account(actor: str) -> str | None:
    """The account an actor label names (``ana (display: 张伟)`` → ``ana``); None for a bare name."""
    head, sep, _ = actor.partition(" (display: ")
    return head if sep and actor.endswith(")") else None


def change_details(db: sqlite3.Connection, db_id: str, case_id: int, row_ids: list[int]) -> dict[str, Any]:
    """The details of one ``case_change`` entry (rows added in this transaction, state after it)."""
    rows = []
    if row_ids:
        marks = ",".join("?" * len(row_ids))
        rows = [[int(r[0]), row_digest(r)] for r in db.execute(f"SELECT {_AUDIT_COLS} FROM audit WHERE id IN ({marks}) ORDER BY id", row_ids)]
    return {"cases_db": db_id, "case_id": int(case_id), "rows": rows, "state_sha256": state_digest(db, case_id)}
