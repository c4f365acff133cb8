"""Cases: findings gathered for investigation, persisted in a local SQLite file with an audit trail.

A case holds one or more findings (a snapshot of each, as it was when added), the
entities and claims under investigation (taken from the findings, then edited by hand),
a status (new / reviewing / confirmed / dismissed / referred), an assignee and notes.
Every change is written to the ``audit`` table: who, when, what, old and new value, and into
the signed audit log (:mod:`graphkit.workbench.case_chain`), so an edit of the SQLite file
with ``sqlite3`` is found by :meth:`CaseStore.verify` and refused on export.

The embedded database lives beside the store (``<store>.cases.sqlite``); a Neo4j-backed
case store can implement the same methods later.

Examples
--------
>>> import tempfile, os
>>> from graphkit.findings import Entity, Finding
>>> from graphkit.audit import AuditLog
>>> d = tempfile.mkdtemp()
>>> cs = CaseStore(os.path.join(d, "cases.sqlite"), audit=AuditLog(os.path.join(d, "audit.jsonl")))
>>> f = Finding.create("shared_card", key=["K1"], score=0.9, claims=["C1", "C2"],
...                    entities=[Entity("card", "K1", "card")])
>>> case = cs.create("冒卡案 / shared card case", actor="wang", findings=[f])
>>> case = cs.update(case.id, actor="li", status="confirmed", assignee="li")
>>> case.status, case.claims, [e.id for e in case.entities]
('confirmed', ['C1', 'C2'], ['K1'])
>>> [(a, f) for a, f in cs.audit(case.id)[["actor", "field"]].values.tolist()][-2:]
[('li', 'status'), ('li', 'assignee')]
>>> cs.dispositions()["label"].tolist()
[1]
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import pandas as pd

from ..audit import AuditLog
from ..errors import GraphkitError
from .case_chain import ACTION, change_details, recorders, verify_cases
from ..findings import ENTITY_TYPES, KINDS, Entity, Finding

if TYPE_CHECKING:  # annotation only
    from graphkit.store.base import Store

__all__ = ["Case", "CaseStore", "CaseError", "STATUSES", "POSITIVE", "NEGATIVE", "case_finding", "export_case",
           "default_cases_path", "case_dossier_spec"]

#: allowed statuses, in workflow order
STATUSES = ("new", "reviewing", "confirmed", "dismissed", "referred")
#: statuses that count as a confirmed lead (referral follows confirmation) / as a false lead
POSITIVE = ("confirmed", "referred")
NEGATIVE = ("dismissed",)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS cases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'new',
  assignee TEXT NOT NULL DEFAULT '',
  notes TEXT NOT NULL DEFAULT '',
  store_fingerprint TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL, created_by TEXT NOT NULL,
  updated_at TEXT NOT NULL, updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_findings (
  case_id INTEGER NOT NULL REFERENCES cases(id), finding_id TEXT NOT NULL, kind TEXT NOT NULL,
  score REAL NOT NULL, amount REAL NOT NULL, snapshot TEXT NOT NULL, added_at TEXT NOT NULL,
  PRIMARY KEY (case_id, finding_id)
);
CREATE TABLE IF NOT EXISTS case_entities (
  case_id INTEGER NOT NULL REFERENCES cases(id), type TEXT NOT NULL, entity_id TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT '', manual INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (case_id, type, entity_id)
);
CREATE TABLE IF NOT EXISTS case_claims (
  case_id INTEGER NOT NULL REFERENCES cases(id), claim_id TEXT NOT NULL, manual INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (case_id, claim_id)
);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, case_id INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, field TEXT NOT NULL DEFAULT '', old TEXT, new TEXT
);
CREATE TABLE IF NOT EXISTS prefs (user TEXT NOT NULL, key TEXT NOT NULL, value TEXT, PRIMARY KEY (user, key));
CREATE INDEX IF NOT EXISTS audit_case ON audit(case_id, id);
"""


class CaseError(GraphkitError):
    """A case operation was refused (unknown case, bad status, bad entity)."""


def check_entities(entities: Iterable[Entity]) -> list[Entity]:
    """The entities as a list, or :class:`CaseError` for an unknown type or an empty id."""
    ents = list(entities)
    for e in ents:
        if e.type not in ENTITY_TYPES:
            raise CaseError(f"entity type must be one of {ENTITY_TYPES}; got {e.type!r}")
        if not str(e.id).strip():
            raise CaseError("entity id must not be empty")
    return ents


def default_cases_path(store_path: str | Path) -> Path:
    """The case database beside an embedded store folder.

    Examples
    --------
    >>> default_cases_path("/data/demo-out/store").as_posix()
    '/data/demo-out/store.cases.sqlite'
    """
    p = Path(store_path)
    return p.with_name(p.name + ".cases.sqlite")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class Case:
    """A case as stored (a snapshot; change it through :class:`CaseStore`)."""

    id: int
    title: str
    status: str
    assignee: str
    notes: str
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str
    store_fingerprint: str = ""
    findings: list[Finding] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``案件 #3 标题 [已确认]`` — for pickers."""
        from .shaping import STATUS_ZH

        return f"案件 #{self.id} {self.title} [{STATUS_ZH[self.status][0]} {self.status}]"

    @property
    def kinds(self) -> list[str]:
        return sorted({f.kind for f in self.findings})


def _active_log() -> Any:
    from ..guard.auditlog import active_log

    return active_log()


class CaseStore:
    """Cases in a SQLite file (created on first use; safe to open from several kernels).

    Parameters
    ----------
    path
        The database file.
    store_fingerprint
        Recorded on new cases, so a case says which data it was built on.
    audit
        The audit log every change is recorded in (default: the guard's log where a guard runs,
        :class:`graphkit.guard.auditlog.GuardAuditLog`, else :func:`graphkit.audit.default_log`);
        anything with the same ``append``/``find``/``verify`` can stand in.
    """

    def __init__(self, path: str | Path, *, store_fingerprint: str = "", audit: AuditLog | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.store_fingerprint = store_fingerprint
        self.audit_log = audit if audit is not None else _active_log()
        self._pending: dict[int, dict[int, dict[str, Any]]] = {}
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('format', 'graphkit.cases/v1')")
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('id', ?)", (uuid.uuid4().hex,))
            self.db_id = db.execute("SELECT value FROM meta WHERE key='id'").fetchone()[0]
        finally:
            db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("BEGIN IMMEDIATE")
            pending = self._pending[id(db)] = {}
            try:
                yield db
                for cid, p in pending.items():  # recorded before the commit: a refused append undoes the change
                    self.audit_log.append(ACTION, actor=p["actor"], **change_details(db, self.db_id, cid, p["rows"]))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            self._pending.pop(id(db), None)
            db.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            yield db
        finally:
            db.close()

    def _changed(self, db: sqlite3.Connection, case_id: int, actor: str) -> dict[str, Any]:
        return self._pending[id(db)].setdefault(int(case_id), {"actor": actor, "rows": []})

    def _audit(self, db: sqlite3.Connection, case_id: int, actor: str, action: str, field: str = "",
               old: Any = None, new: Any = None) -> None:
        enc = lambda v: None if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)  # noqa: E731
        cur = db.execute("INSERT INTO audit(case_id, at, actor, action, field, old, new) VALUES (?,?,?,?,?,?,?)",
                         (case_id, _now(), actor, action, field, enc(old), enc(new)))
        self._changed(db, case_id, actor)["rows"].append(int(cur.lastrowid))

    def _touch(self, db: sqlite3.Connection, case_id: int, actor: str) -> None:
        cur = db.execute("UPDATE cases SET updated_at=?, updated_by=? WHERE id=?", (_now(), actor, case_id))
        if cur.rowcount == 0:
            raise CaseError(f"no case #{case_id}")
        self._changed(db, case_id, actor)

    def verify(self, case_id: int | None = None) -> list[str]:
        """What differs between the case database and the changes recorded in the audit log
        (all cases, or one); empty when nothing was edited outside graphkit."""
        lv = self.audit_log.verify()
        if not lv.ok:
            return [f"audit log: {lv}"]
        records = self.audit_log.find(ACTION, cases_db=self.db_id)
        with self._read() as db:
            return verify_cases(db, self.db_id, records, case_id)

    def recorded_by(self) -> dict[int, str]:
        """Audit row id → the account that recorded it in the (verified) audit log."""
        return recorders(self.audit_log.find(ACTION, cases_db=self.db_id), self.db_id)

    @staticmethod
    def _check_actor(actor: str) -> str:
        if not actor or not str(actor).strip():
            raise CaseError("every change needs an actor (who made it); got an empty name")
        return str(actor).strip()

    # -- reading -----------------------------------------------------------------------
    def get(self, case_id: int) -> Case:
        """The case ``case_id`` with its findings, entities and claims."""
        with self._read() as db:
            row = db.execute("SELECT id, title, status, assignee, notes, created_at, created_by, updated_at, "
                             "updated_by, store_fingerprint FROM cases WHERE id=?", (int(case_id),)).fetchone()
            if row is None:
                raise CaseError(f"no case #{case_id} in {self.path}")
            snaps = db.execute("SELECT snapshot FROM case_findings WHERE case_id=? ORDER BY rowid",
                               (int(case_id),)).fetchall()
            ents = db.execute("SELECT type, entity_id, role FROM case_entities WHERE case_id=? ORDER BY rowid",
                              (int(case_id),)).fetchall()
            claims = db.execute("SELECT claim_id FROM case_claims WHERE case_id=? ORDER BY claim_id",
                                (int(case_id),)).fetchall()
        return Case(*row, findings=[Finding.from_dict(json.loads(s)) for (s,) in snaps],
                    entities=[Entity(t, i, r) for t, i, r in ents], claims=[c for (c,) in claims])

    def list(self, *, status: str | None = None) -> pd.DataFrame:
        """All cases (newest first): id, title, status, assignee, findings, claims, updated."""
        q = ("SELECT c.id, c.title, c.status, c.assignee, c.updated_at, c.updated_by, "
             "(SELECT COUNT(*) FROM case_findings f WHERE f.case_id=c.id) AS findings, "
             "(SELECT COUNT(*) FROM case_claims k WHERE k.case_id=c.id) AS claims FROM cases c")
        args: tuple[Any, ...] = ()
        if status:
            q += " WHERE c.status=?"
            args = (status,)
        with self._read() as db:
            return pd.read_sql_query(q + " ORDER BY c.id DESC", db, params=args)

    def audit(self, case_id: int | None = None) -> pd.DataFrame:
        """The audit trail (oldest first), of one case or of all."""
        q = "SELECT id, case_id, at, actor, action, field, old, new FROM audit"
        args: tuple[Any, ...] = ()
        if case_id is not None:
            q += " WHERE case_id=?"
            args = (int(case_id),)
        with self._read() as db:
            return pd.read_sql_query(q + " ORDER BY id", db, params=args)

    def dispositions(self) -> pd.DataFrame:
        """Findings in decided cases: ``finding_id, kind, score, status, label, case_id, decided_at``.

        ``label`` is 1 for confirmed or referred cases and 0 for dismissed ones; a finding
        in several decided cases takes the most recently updated case's decision.
        """
        decided = POSITIVE + NEGATIVE
        q = ("SELECT f.finding_id, f.kind, f.score, c.status, c.id AS case_id, c.updated_at AS decided_at "
             "FROM case_findings f JOIN cases c ON c.id=f.case_id WHERE c.status IN (%s) "
             "ORDER BY c.updated_at, c.id" % ",".join("?" * len(decided)))
        with self._read() as db:
            df = pd.read_sql_query(q, db, params=decided)
        df = df.drop_duplicates("finding_id", keep="last").reset_index(drop=True)
        df.insert(4, "label", df["status"].isin(POSITIVE).astype(int))
        return df

    # -- writing -----------------------------------------------------------------------
    def create(self, title: str, *, actor: str, findings: Iterable[Finding] = (), assignee: str = "",
               notes: str = "") -> Case:
        """A new case (status ``new``) holding ``findings``."""
        actor = self._check_actor(actor)
        now = _now()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO cases(title, status, assignee, notes, store_fingerprint, created_at, created_by, "
                "updated_at, updated_by) VALUES (?,?,?,?,?,?,?,?,?)",
                (title, "new", assignee, notes, self.store_fingerprint, now, actor, now, actor),
            )
            case_id = int(cur.lastrowid)
            self._audit(db, case_id, actor, "create", "title", None, title)
            if assignee:
                self._audit(db, case_id, actor, "update", "assignee", "", assignee)
            if notes:
                self._audit(db, case_id, actor, "update", "notes", "", notes)
            self._add_findings(db, case_id, list(findings), actor)
        return self.get(case_id)

    def _add_findings(self, db: sqlite3.Connection, case_id: int, findings: Sequence[Finding], actor: str) -> None:
        for f in findings:
            cur = db.execute(
                "INSERT OR IGNORE INTO case_findings(case_id, finding_id, kind, score, amount, snapshot, added_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (case_id, f.id, f.kind, float(f.score), float(f.amount_at_risk),
                 json.dumps(f.to_dict(), ensure_ascii=False), _now()),
            )
            if cur.rowcount == 0:
                continue
            db.executemany("INSERT OR IGNORE INTO case_entities(case_id, type, entity_id, role, manual) VALUES (?,?,?,?,0)",
                           [(case_id, e.type, e.id, e.role) for e in f.entities])
            db.executemany("INSERT OR IGNORE INTO case_claims(case_id, claim_id, manual) VALUES (?,?,0)",
                           [(case_id, c) for c in f.claims])
            self._audit(db, case_id, actor, "add_finding", "findings", None,
                        {"finding": f.id, "entities": len(f.entities), "claims": len(f.claims)})

    def add_findings(self, case_id: int, findings: Iterable[Finding], *, actor: str) -> Case:
        """Add findings (and their entities and claims) to a case; findings already in it are skipped."""
        actor = self._check_actor(actor)
        with self._tx() as db:
            self._touch(db, case_id, actor)
            self._add_findings(db, int(case_id), list(findings), actor)
        return self.get(case_id)

    def remove_findings(self, case_id: int, finding_ids: Iterable[str], *, actor: str) -> Case:
        """Remove findings; their entities and claims go too unless another finding in the
        case holds them or they were added by hand."""
        actor = self._check_actor(actor)
        ids = list(dict.fromkeys(finding_ids))
        with self._tx() as db:
            self._touch(db, case_id, actor)
            for fid in ids:
                cur = db.execute("DELETE FROM case_findings WHERE case_id=? AND finding_id=?", (case_id, fid))
                if cur.rowcount:
                    self._audit(db, case_id, actor, "remove_finding", "findings", fid, None)
            remaining = [Finding.from_dict(json.loads(s)) for (s,) in
                         db.execute("SELECT snapshot FROM case_findings WHERE case_id=?", (case_id,))]
            keep_e = {(e.type, e.id) for f in remaining for e in f.entities}
            keep_c = {c for f in remaining for c in f.claims}
            ents = db.execute("SELECT type, entity_id FROM case_entities WHERE case_id=? AND manual=0", (case_id,)).fetchall()
            gone_e = [(t, i) for t, i in ents if (t, i) not in keep_e]
            db.executemany("DELETE FROM case_entities WHERE case_id=? AND type=? AND entity_id=?",
                           [(case_id, t, i) for t, i in gone_e])
            cls = db.execute("SELECT claim_id FROM case_claims WHERE case_id=? AND manual=0", (case_id,)).fetchall()
            gone_c = [c for (c,) in cls if c not in keep_c]
            db.executemany("DELETE FROM case_claims WHERE case_id=? AND claim_id=?", [(case_id, c) for c in gone_c])
            if gone_e or gone_c:
                self._audit(db, case_id, actor, "remove_evidence", "entities/claims",
                            {"entities": [f"{t}:{i}" for t, i in gone_e], "claims": len(gone_c)}, None)
        return self.get(case_id)

    def add_entities(self, case_id: int, entities: Iterable[Entity], *, actor: str) -> Case:
        """Add entities by hand (audited)."""
        actor = self._check_actor(actor)
        ents = check_entities(entities)
        with self._tx() as db:
            self._touch(db, case_id, actor)
            for e in ents:
                cur = db.execute("INSERT OR IGNORE INTO case_entities(case_id, type, entity_id, role, manual) VALUES (?,?,?,?,1)",
                                 (case_id, e.type, e.id.strip(), e.role))
                if cur.rowcount:
                    self._audit(db, case_id, actor, "add_entity", "entities", None, f"{e.type}:{e.id.strip()}")
        return self.get(case_id)

    def remove_entities(self, case_id: int, keys: Iterable[tuple[str, str]], *, actor: str) -> Case:
        """Remove entities given as ``(type, id)`` (audited)."""
        actor = self._check_actor(actor)
        with self._tx() as db:
            self._touch(db, case_id, actor)
            for t, i in keys:
                cur = db.execute("DELETE FROM case_entities WHERE case_id=? AND type=? AND entity_id=?", (case_id, t, i))
                if cur.rowcount:
                    self._audit(db, case_id, actor, "remove_entity", "entities", f"{t}:{i}", None)
        return self.get(case_id)

    def add_claims(self, case_id: int, claim_ids: Iterable[str], *, actor: str) -> Case:
        """Add claims by id (audited with the ids added)."""
        actor = self._check_actor(actor)
        ids = [c.strip() for c in claim_ids if c and c.strip()]
        with self._tx() as db:
            self._touch(db, case_id, actor)
            added = []
            for c in dict.fromkeys(ids):
                cur = db.execute("INSERT OR IGNORE INTO case_claims(case_id, claim_id, manual) VALUES (?,?,1)", (case_id, c))
                if cur.rowcount:
                    added.append(c)
            if added:
                self._audit(db, case_id, actor, "add_claims", "claims", None, added)
        return self.get(case_id)

    def remove_claims(self, case_id: int, claim_ids: Iterable[str], *, actor: str) -> Case:
        """Remove claims by id (audited with the ids removed)."""
        actor = self._check_actor(actor)
        with self._tx() as db:
            self._touch(db, case_id, actor)
            removed = []
            for c in dict.fromkeys(claim_ids):
                cur = db.execute("DELETE FROM case_claims WHERE case_id=? AND claim_id=?", (case_id, c))
                if cur.rowcount:
                    removed.append(c)
            if removed:
                self._audit(db, case_id, actor, "remove_claims", "claims", removed, None)
        return self.get(case_id)

    def update(self, case_id: int, *, actor: str, status: str | None = None, assignee: str | None = None,
               notes: str | None = None, title: str | None = None) -> Case:
        """Change status, assignee, notes or title; each changed field gets an audit row."""
        actor = self._check_actor(actor)
        if status is not None and status not in STATUSES:
            raise CaseError(f"status must be one of {STATUSES}; got {status!r}")
        with self._tx() as db:
            row = db.execute("SELECT status, assignee, notes, title FROM cases WHERE id=?", (int(case_id),)).fetchone()
            if row is None:
                raise CaseError(f"no case #{case_id}")
            old = dict(zip(("status", "assignee", "notes", "title"), row))
            new = {"status": status, "assignee": assignee, "notes": notes, "title": title}
            changed = False
            for k, v in new.items():
                if v is None or v == old[k]:
                    continue
                db.execute(f"UPDATE cases SET {k}=? WHERE id=?", (v, int(case_id)))
                self._audit(db, int(case_id), actor, "update", k, old[k], v)
                changed = True
            if changed:
                self._touch(db, int(case_id), actor)
        return self.get(case_id)

    def log(self, case_id: int, *, actor: str, action: str, detail: Any = None) -> None:
        """Record an action that changes nothing in the case (e.g. a dossier export)."""
        actor = self._check_actor(actor)
        with self._tx() as db:
            self._audit(db, int(case_id), actor, action, "", None, detail)

    # -- per-user preferences (the lead opened in triage, …) ----------------------------
    def set_pref(self, user: str, key: str, value: str | None) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO prefs(user, key, value) VALUES (?,?,?)", (user, key, value))

    def get_pref(self, user: str, key: str) -> str | None:
        with self._read() as db:
            row = db.execute("SELECT value FROM prefs WHERE user=? AND key=?", (user, key)).fetchone()
        return None if row is None else row[0]


def case_finding(case: Case, claims: pd.DataFrame | None = None) -> Finding:
    """The case as one finding, for the dossier: its entities and claims, amount summed from
    ``claims`` (``claim_id, fund_amount, start_time``) when given.

    The kind is that of the case's finding with the largest amount at risk.

    Examples
    --------
    >>> c = Case(7, "标题", "confirmed", "", "", "", "", "", "",
    ...          findings=[Finding.create("shared_card", key=["K1"], amount_at_risk=5.0)], claims=["C1"])
    >>> f = case_finding(c)
    >>> f.id, f.kind, f.claims
    ('case:000007', 'shared_card', ['C1'])
    """
    if not case.findings:
        raise CaseError(f"案件 #{case.id} 尚无线索，请先加入至少一条 / case #{case.id} holds no findings; "
                        "add at least one before exporting")
    main = max(case.findings, key=lambda f: (f.amount_at_risk, f.score))
    kind = main.kind if main.kind in KINDS else next(iter(KINDS))
    amount = sum(f.amount_at_risk for f in case.findings)
    start = min((f.period.get("start") for f in case.findings if f.period.get("start")), default=None)
    end = max((f.period.get("end") for f in case.findings if f.period.get("end")), default=None)
    if claims is not None and len(claims):
        c = claims[claims["claim_id"].isin(case.claims)]
        amount = float(c["fund_amount"].sum())
        if "start_time" in c and len(c):
            start = pd.Timestamp(c["start_time"].min()).strftime("%Y-%m-%dT%H:%M:%S")
            end = pd.Timestamp(c["start_time"].max()).strftime("%Y-%m-%dT%H:%M:%S")
    from .shaping import STATUS_ZH

    zh, en = STATUS_ZH[case.status]
    summary = (f"案件 #{case.id}「{case.title}」（{zh} / {en}，承办人 / assignee: {case.assignee or '未指定 unassigned'}）："
               + "；".join(f.summary for f in case.findings))
    if case.notes:
        summary += f"。备注 / notes: {case.notes}"
    return Finding(
        id=f"case:{case.id:06d}",
        kind=kind,
        score=max(f.score for f in case.findings),
        amount_at_risk=round(amount, 2),
        period={"start": start, "end": end},
        entities=list(case.entities),
        claims=list(case.claims),
        summary=summary,
        evidence={"case": {"id": case.id, "title": case.title, "status": case.status, "assignee": case.assignee},
                  "findings": [f.id for f in case.findings]},
    )


def case_dossier_spec(case: Case, audit: pd.DataFrame | None = None) -> dict[str, Any]:
    """The ``case`` mapping :func:`graphkit.dossier.write_dossier` takes: id, title, status,
    assignee, notes, what was added to or removed from the findings' evidence, audit trail.

    Examples
    --------
    >>> f = Finding.create("shared_card", key=["K1"], claims=["C1", "C2"], entities=[Entity("card", "K1", "card")])
    >>> c = Case(3, "标题", "reviewing", "li", "", "", "", "", "", findings=[f],
    ...          entities=[Entity("card", "K1", "card"), Entity("doctor", "D1", "organiser")], claims=["C2", "C9"])
    >>> spec = case_dossier_spec(c)
    >>> spec["id"], spec["add_claims"], spec["remove_claims"], spec["add_entities"]
    ('CASE-000003', ['C9'], ['C1'], [{'type': 'doctor', 'id': 'D1', 'role': 'organiser'}])
    """
    f_claims = {c for f in case.findings for c in f.claims}
    f_ents = {(e.type, e.id) for f in case.findings for e in f.entities}
    c_ents = {(e.type, e.id) for e in case.entities}
    trail = []
    if audit is not None and len(audit):
        cols = ["at", "actor"] + (["account"] if "account" in audit else []) + ["action", "field", "old", "new"]
        trail = [{k: ("" if pd.isna(v) else v) for k, v in r.items()} for r in audit[cols].to_dict("records")]
    return {
        "id": f"CASE-{case.id:06d}", "title": case.title, "status": case.status, "assignee": case.assignee,
        "notes": case.notes, "created_at": case.created_at, "created_by": case.created_by,
        "add_claims": sorted(set(case.claims) - f_claims), "remove_claims": sorted(f_claims - set(case.claims)),
        "add_entities": [{"type": e.type, "id": e.id, "role": e.role} for e in case.entities if (e.type, e.id) not in f_ents],
        "remove_entities": [{"type": t, "id": i} for t, i in sorted(f_ents - c_ents)],
        "audit": trail,
    }


def export_case(cases: CaseStore, case_id: int, store: Store, out_dir: str | Path, *, actor: str,
                parameters: dict[str, dict[str, Any]] | None = None, pdf: bool = False, profile: str = "internal",
                clear_source: Any = None, **dossier_options: Any) -> dict[str, Path]:
    """Hand a case to the dossier export, in its own folder ``out_dir/case-<id>``.

    :func:`graphkit.dossier.write_dossier` receives the case's findings, its added/removed
    evidence, status and audit trail as they are.
    Returns the dossier's paths (``pdf`` with ``pdf=True``) plus ``audit`` (the case's audit trail as CSV); the export is
    recorded in the case's audit trail. ``dossier_options`` (reviewer, legal_basis, refer, audit)
    go to :func:`~graphkit.dossier.write_dossier`; a reviewer's sign-off recorded on the case
    (:func:`graphkit.dossier.sign_off`) is what lifts the draft mark.
    """
    from ..dossier import write_dossier

    case = cases.get(case_id)
    problems = cases.verify(case.id) if hasattr(cases, "verify") else []  # the Neo4j case store: not chained yet
    if problems:
        raise CaseError(f"案件记录在 graphkit 之外被改动，拒绝导出 / case #{case.id} was changed outside graphkit; "
                        "refusing to export: " + "; ".join(problems))
    if not case.findings:
        raise CaseError(f"案件 #{case.id} 尚无线索，请先加入至少一条 / case #{case.id} holds no findings; "
                        "add at least one before exporting")
    folder = Path(out_dir) / f"case-{case.id:06d}"
    audit = cases.audit(case.id)
    if hasattr(cases, "recorded_by"):  # who recorded each row in the audit chain: the account, not a typed name
        audit.insert(audit.columns.get_loc("actor") + 1, "account", audit["id"].map(cases.recorded_by()).fillna(""))
    params = {k: v for k, v in (parameters or {}).items() if k in {f.kind for f in case.findings}}
    m = write_dossier(store, case.findings, folder, case=case_dossier_spec(case, audit), parameters=params,
                      pdf=pdf, actor=actor, profile=profile, clear_source=clear_source,
                      **{"audit": getattr(cases, "audit_log", None), **dossier_options})
    root = Path(m["path"])
    paths = {"html": root / "dossier.html", "markdown": root / "dossier.md", "json": root / "dossier.json",
             "manifest": root / "manifest.json", **({"pdf": root / "dossier.pdf"} if pdf else {})}
    folder.mkdir(parents=True, exist_ok=True)
    audit_path = folder.parent / f"case-{case.id:06d}-audit.csv"
    from ..outputs import write_csv

    write_csv(audit, audit_path)  # notes are user text: CSV-injection safe
    out = {**paths, "audit": audit_path}
    cases.log(case.id, actor=actor, action="export", detail={k: str(v) for k, v in out.items()})
    return out
