"""A reviewer's sign-off: what turns a dossier from a draft (草稿) into a paper that may go out.

Every generated paper is a draft for a named reviewer. The reviewer's decision (name, date,
decision, the level established: 违规 or 骗取) is recorded twice: in the case's own audit trail
(the workbench case store) and in the append-only audit log (:mod:`graphkit.audit`). An export
drops the draft mark only when both records exist and agree and the sign-off covers the evidence
exported: the sign-off carries a digest of the case's findings, claims and entities, so a case
edited after the sign-off is a draft again.

Examples
--------
>>> evidence_digest(["F1"], ["C2", "C1"], ["card:K1"]) == evidence_digest(["F1"], ["C1", "C2"], ["card:K1"])
True
>>> DECISIONS["approve"]
'同意'
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Iterable

from ..audit import AuditLog, require_intact
from ..guard.auditlog import GuardAuditLog, active_log
from ..errors import GraphkitError

__all__ = ["sign_off", "evidence_digest", "find_sign_off", "DECISIONS", "SIGN_OFF_ACTION"]

#: decision → 中文; only ``approve`` removes the draft mark
DECISIONS = {"approve": "同意", "return": "退回补充调查"}
SIGN_OFF_ACTION = "dossier_sign_off"


def evidence_digest(finding_ids: Iterable[str], claim_ids: Iterable[str], entity_keys: Iterable[str]) -> str:
    """SHA-256 of what a sign-off covers (order-free): finding ids, claim ids, ``type:id`` entities."""
    body = {"findings": sorted(set(finding_ids)), "claims": sorted(set(claim_ids)), "entities": sorted(set(entity_keys))}
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()


def sign_off(cases: Any, case_id: int, *, reviewer: str, decision: str, level: str, date: str | None = None,
             note: str = "", audit: AuditLog | None = None) -> dict[str, Any]:
    """Record a reviewer's decision on case ``case_id`` in the case and in the audit log.

    ``decision`` is ``approve`` (同意) or ``return`` (退回补充调查); ``level`` is what the
    investigation established: ``违规`` or ``骗取`` (``可疑`` when returned). The reviewer needs the
    ``sign_off`` permission and must not be the case's assignee. Where a guard runs (the audit log
    is the guard's), the guard decides both for the caller's OS account from its own roles file and
    records that account as the reviewer — ``reviewer`` is then only the name shown beside it; a
    personal install (no guard) checks ``reviewer`` against ``GRAPHKIT_ROLES`` (no separation of
    duties there, docs/security.md).
    """
    from ..roles import require
    from .legal import LEVELS

    reviewer = (reviewer or "").strip()
    log = audit or active_log()
    guarded = isinstance(log, GuardAuditLog)
    if not reviewer and not guarded:
        raise GraphkitError("a sign-off needs the reviewer's name")
    if not guarded:
        require(reviewer, "sign_off", what="sign off dossiers")
    if decision not in DECISIONS:
        raise GraphkitError(f"decision must be one of {sorted(DECISIONS)}; got {decision!r}")
    if level not in LEVELS or (decision == "approve" and level == "可疑"):
        raise GraphkitError(f"level must be 违规 or 骗取 for an approval (one of {LEVELS} otherwise); got {level!r}")
    case = cases.get(case_id)
    if not guarded and case.assignee and case.assignee == reviewer:
        raise GraphkitError(f"the reviewer may not be the case's assignee ({reviewer}): a second person signs off")
    date = date or time.strftime("%Y-%m-%d")
    try:
        time.strptime(date, "%Y-%m-%d")
    except ValueError:
        raise GraphkitError(f"sign-off date must be YYYY-MM-DD; got {date!r}") from None
    digest = evidence_digest([f.id for f in case.findings], case.claims, [f"{e.type}:{e.id}" for e in case.entities])
    record = {"case_id": f"CASE-{case.id:06d}", "reviewer": reviewer, "date": date, "decision": decision,
              "level": level, "note": note, "digest": digest}
    require_intact(log)
    if guarded:  # the guard checks the OS account's permission and records it as the reviewer
        sent = {k: v for k, v in record.items() if k != "reviewer"}
        entry = log.sign_off(sent, assignee=case.assignee or "", display=reviewer)
        reviewer = record["reviewer"] = entry["details"]["reviewer"]
    else:
        entry = log.append(SIGN_OFF_ACTION, actor=reviewer, **record)
    cases.log(case.id, actor=reviewer, action="sign_off", detail={**record, "audit_seq": entry["seq"]})
    return {**record, "audit_seq": entry["seq"]}


def find_sign_off(trail: list[dict[str, Any]], case_id: str, digest: str, audit: AuditLog | None) -> dict[str, Any] | None:
    """The case's latest sign-off, when it covers ``digest`` and the audit log holds the same record;
    else None. ``trail`` is the case's audit trail as :func:`case_dossier_spec` gives it."""
    rows = [r for r in trail if r.get("action") == "sign_off"]
    if not rows:
        return None
    raw = rows[-1].get("new")
    try:
        rec = raw if isinstance(raw, dict) else json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        return None
    if rec.get("case_id") != case_id or rec.get("digest") != digest:
        return None
    log = audit or active_log()
    match = {k: rec.get(k) for k in ("case_id", "reviewer", "date", "decision", "level", "digest")}
    if not any(e["seq"] == rec.get("audit_seq") for e in log.find(SIGN_OFF_ACTION, **match)):
        return None
    return rec
