"""Investigators' cases kept in the graph (the Neo4j counterpart of the SQLite case store).

Same API and semantics as :class:`graphkit.workbench.cases.CaseStore`: each case is a ``:Case``
node holding its document (title, status, assignee, notes, finding snapshots, entities and
claims with a manual flag) and an audit chain of ``:CaseAudit`` nodes ``(:Case)-[:HAS_AUDIT]->``;
per-user preferences are ``:CasePref`` nodes. Every change runs in one transaction that first
takes the case's write lock, so investigators sharing the graph never lose each other's edits.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterable

import pandas as pd

from ..findings import Entity, Finding
from ..workbench.cases import NEGATIVE, POSITIVE, STATUSES, Case, CaseError, CaseStore, check_entities
from .runner import Connection, query, run_in

__all__ = ["GraphCaseStore"]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _enc(v: Any) -> Any:
    return None if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


class GraphCaseStore:
    """Cases in the graph behind ``conn`` (see module docstring)."""

    def __init__(self, conn: Connection, *, store_fingerprint: str = "") -> None:
        self.conn = conn
        self.store_fingerprint = store_fingerprint
        self.path = f"{conn.uri} (:Case)"
        conn.schema()

    # -- plumbing ----------------------------------------------------------------------
    _check_actor = staticmethod(CaseStore._check_actor)

    def _change(self, case_id: int, actor: str, fn: Callable[[dict[str, Any], list], None], *, touch: bool = True) -> Case:
        """Lock the case, let ``fn(doc, audit_rows)`` change it, save it and its audit rows."""
        def work(tx):
            rec = tx.run(query("cases/lock_case").text, {"id": int(case_id), "actor": actor}).single()
            if rec is None:
                raise CaseError(f"no case #{case_id} in {self.path}")
            doc = json.loads(rec["doc"])
            rows: list[tuple[str, str, Any, Any]] = []
            fn(doc, rows)
            if rows and touch:
                doc["updated_at"], doc["updated_by"] = _now(), actor
            self._save(tx, doc)
            self._audit_rows(tx, int(case_id), actor, rows)

        self.conn.write(work, name=f"case #{case_id}")
        return self.get(case_id)

    @staticmethod
    def _save(tx, doc: dict[str, Any]) -> None:
        run_in(tx, "cases/save_case", id=int(doc["id"]), doc=json.dumps(doc, ensure_ascii=False), status=doc["status"],
               title=doc["title"], updatedAt=doc["updated_at"])

    @staticmethod
    def _audit_rows(tx, case_id: int, actor: str, rows: list[tuple[str, str, Any, Any]]) -> None:
        for action, field, old, new in rows:
            seq = tx.run(query("cases/next_id").text, {"counter": "case_audit"}).single()["id"]
            run_in(tx, "cases/add_audit", seq=int(seq), caseId=case_id, at=_now(), actor=actor, action=action,
                   field=field, old=_enc(old), new=_enc(new))

    @staticmethod
    def _case(doc: dict[str, Any]) -> Case:
        return Case(
            doc["id"], doc["title"], doc["status"], doc["assignee"], doc["notes"], doc["created_at"], doc["created_by"],
            doc["updated_at"], doc["updated_by"], doc.get("store_fingerprint", ""),
            findings=[Finding.from_dict(f["snapshot"]) for f in doc["findings"]],
            entities=[Entity(e["type"], e["entity_id"], e["role"]) for e in doc["entities"]],
            claims=sorted(c["claim_id"] for c in doc["claims"]),
        )

    # -- reading -----------------------------------------------------------------------
    def get(self, case_id: int) -> Case:
        recs = self.conn.read("cases/read_case", id=int(case_id))
        if not recs:
            raise CaseError(f"no case #{case_id} in {self.path}")
        return self._case(json.loads(recs[0]["doc"]))

    def list(self, *, status: str | None = None) -> pd.DataFrame:
        docs = [json.loads(r["doc"]) for r in self.conn.read("cases/list_cases")]
        rows = [{"id": d["id"], "title": d["title"], "status": d["status"], "assignee": d["assignee"],
                 "updated_at": d["updated_at"], "updated_by": d["updated_by"], "findings": len(d["findings"]),
                 "claims": len(d["claims"])} for d in docs if status is None or d["status"] == status]
        return pd.DataFrame(rows, columns=["id", "title", "status", "assignee", "updated_at", "updated_by", "findings", "claims"])

    def audit(self, case_id: int | None = None) -> pd.DataFrame:
        recs = self.conn.read("cases/read_audit", caseId=None if case_id is None else int(case_id))
        return pd.DataFrame(recs, columns=["id", "case_id", "at", "actor", "action", "field", "old", "new"])

    def dispositions(self) -> pd.DataFrame:
        decided = set(POSITIVE + NEGATIVE)
        docs = sorted((json.loads(r["doc"]) for r in self.conn.read("cases/list_cases")), key=lambda d: (d["updated_at"], d["id"]))
        rows = [{"finding_id": f["finding_id"], "kind": f["kind"], "score": f["score"], "status": d["status"],
                 "case_id": d["id"], "decided_at": d["updated_at"]}
                for d in docs if d["status"] in decided for f in d["findings"]]
        df = pd.DataFrame(rows, columns=["finding_id", "kind", "score", "status", "case_id", "decided_at"])
        df = df.drop_duplicates("finding_id", keep="last").reset_index(drop=True)
        df.insert(4, "label", df["status"].isin(POSITIVE).astype(int))
        return df

    # -- writing -----------------------------------------------------------------------
    @staticmethod
    def _add_findings(doc: dict[str, Any], findings: list[Finding], rows: list) -> None:
        have = {f["finding_id"] for f in doc["findings"]}
        ents = {(e["type"], e["entity_id"]) for e in doc["entities"]}
        claims = {c["claim_id"] for c in doc["claims"]}
        for f in findings:
            if f.id in have:
                continue
            have.add(f.id)
            doc["findings"].append({"finding_id": f.id, "kind": f.kind, "score": float(f.score), "amount": float(f.amount_at_risk),
                                    "snapshot": f.to_dict(), "added_at": _now()})
            for e in f.entities:
                if (e.type, e.id) not in ents:
                    ents.add((e.type, e.id))
                    doc["entities"].append({"type": e.type, "entity_id": e.id, "role": e.role, "manual": 0})
            for c in f.claims:
                if c not in claims:
                    claims.add(c)
                    doc["claims"].append({"claim_id": c, "manual": 0})
            rows.append(("add_finding", "findings", None, {"finding": f.id, "entities": len(f.entities), "claims": len(f.claims)}))

    def create(self, title: str, *, actor: str, findings: Iterable[Finding] = (), assignee: str = "", notes: str = "") -> Case:
        actor = self._check_actor(actor)
        now = _now()
        found = list(findings)
        holder: dict[str, int] = {}

        def work(tx):
            cid = int(tx.run(query("cases/next_id").text, {"counter": "cases"}).single()["id"])
            holder["id"] = cid
            doc = {"id": cid, "title": title, "status": "new", "assignee": assignee, "notes": notes,
                   "store_fingerprint": self.store_fingerprint, "created_at": now, "created_by": actor,
                   "updated_at": now, "updated_by": actor, "findings": [], "entities": [], "claims": []}
            rows: list = [("create", "title", None, title)]
            if assignee:
                rows.append(("update", "assignee", "", assignee))
            if notes:
                rows.append(("update", "notes", "", notes))
            self._add_findings(doc, found, rows)
            self._save(tx, doc)
            self._audit_rows(tx, cid, actor, rows)

        self.conn.write(work, name="create case")
        return self.get(holder["id"])

    def add_findings(self, case_id: int, findings: Iterable[Finding], *, actor: str) -> Case:
        actor = self._check_actor(actor)
        found = list(findings)
        return self._change(case_id, actor, lambda doc, rows: self._add_findings(doc, found, rows))

    def remove_findings(self, case_id: int, finding_ids: Iterable[str], *, actor: str) -> Case:
        actor = self._check_actor(actor)
        ids = list(dict.fromkeys(finding_ids))

        def fn(doc, rows):
            for fid in ids:
                if any(f["finding_id"] == fid for f in doc["findings"]):
                    doc["findings"] = [f for f in doc["findings"] if f["finding_id"] != fid]
                    rows.append(("remove_finding", "findings", fid, None))
            remaining = [Finding.from_dict(f["snapshot"]) for f in doc["findings"]]
            keep_e = {(e.type, e.id) for f in remaining for e in f.entities}
            keep_c = {c for f in remaining for c in f.claims}
            gone_e = [(e["type"], e["entity_id"]) for e in doc["entities"] if not e["manual"] and (e["type"], e["entity_id"]) not in keep_e]
            gone_c = [c["claim_id"] for c in doc["claims"] if not c["manual"] and c["claim_id"] not in keep_c]
            doc["entities"] = [e for e in doc["entities"] if (e["type"], e["entity_id"]) not in set(gone_e)]
            doc["claims"] = [c for c in doc["claims"] if c["claim_id"] not in set(gone_c)]
            if gone_e or gone_c:
                rows.append(("remove_evidence", "entities/claims", {"entities": [f"{t}:{i}" for t, i in gone_e], "claims": len(gone_c)}, None))

        return self._change(case_id, actor, fn)

    def add_entities(self, case_id: int, entities: Iterable[Entity], *, actor: str) -> Case:
        actor = self._check_actor(actor)
        ents = check_entities(entities)

        def fn(doc, rows):
            have = {(e["type"], e["entity_id"]) for e in doc["entities"]}
            for e in ents:
                key = (e.type, e.id.strip())
                if key not in have:
                    have.add(key)
                    doc["entities"].append({"type": e.type, "entity_id": key[1], "role": e.role, "manual": 1})
                    rows.append(("add_entity", "entities", None, f"{e.type}:{key[1]}"))

        return self._change(case_id, actor, fn)

    def remove_entities(self, case_id: int, keys: Iterable[tuple[str, str]], *, actor: str) -> Case:
        actor = self._check_actor(actor)
        wanted = list(keys)

        def fn(doc, rows):
            for t, i in wanted:
                if any((e["type"], e["entity_id"]) == (t, i) for e in doc["entities"]):
                    doc["entities"] = [e for e in doc["entities"] if (e["type"], e["entity_id"]) != (t, i)]
                    rows.append(("remove_entity", "entities", f"{t}:{i}", None))

        return self._change(case_id, actor, fn)

    def add_claims(self, case_id: int, claim_ids: Iterable[str], *, actor: str) -> Case:
        actor = self._check_actor(actor)
        ids = [c.strip() for c in claim_ids if c and c.strip()]

        def fn(doc, rows):
            have = {c["claim_id"] for c in doc["claims"]}
            added = [c for c in dict.fromkeys(ids) if c not in have]
            doc["claims"] += [{"claim_id": c, "manual": 1} for c in added]
            if added:
                rows.append(("add_claims", "claims", None, added))

        return self._change(case_id, actor, fn)

    def remove_claims(self, case_id: int, claim_ids: Iterable[str], *, actor: str) -> Case:
        actor = self._check_actor(actor)
        ids = list(dict.fromkeys(claim_ids))

        def fn(doc, rows):
            have = {c["claim_id"] for c in doc["claims"]}
            removed = [c for c in ids if c in have]
            doc["claims"] = [c for c in doc["claims"] if c["claim_id"] not in set(removed)]
            if removed:
                rows.append(("remove_claims", "claims", removed, None))

        return self._change(case_id, actor, fn)

    def update(self, case_id: int, *, actor: str, status: str | None = None, assignee: str | None = None,
               notes: str | None = None, title: str | None = None) -> Case:
        actor = self._check_actor(actor)
        if status is not None and status not in STATUSES:
            raise CaseError(f"status must be one of {STATUSES}; got {status!r}")
        new = {"status": status, "assignee": assignee, "notes": notes, "title": title}

        def fn(doc, rows):
            for k, v in new.items():
                if v is not None and v != doc[k]:
                    rows.append(("update", k, doc[k], v))
                    doc[k] = v

        return self._change(case_id, actor, fn)

    def log(self, case_id: int, *, actor: str, action: str, detail: Any = None) -> None:
        actor = self._check_actor(actor)
        self._change(case_id, actor, lambda doc, rows: rows.append((action, "", None, detail)), touch=False)

    def set_pref(self, user: str, key: str, value: str | None) -> None:
        self.conn.write(lambda tx: run_in(tx, "cases/set_pref", user=user, key=key, value=value), name="set pref")

    def get_pref(self, user: str, key: str) -> str | None:
        recs = self.conn.read("cases/get_pref", user=user, key=key)
        return recs[0]["value"] if recs else None
