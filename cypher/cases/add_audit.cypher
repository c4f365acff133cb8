// name: cases_add_audit
// mode: write
// params: seq: int, caseId: int, at: str, actor: str, action: str, field: str, old: str|null, new: str|null
// returns: nothing — one audit row, linked to its case when the case exists
CREATE (a:CaseAudit {auditId: $seq, caseId: $caseId, at: $at, actor: $actor, action: $action, field: $field, old: $old, new: $new})
WITH a
OPTIONAL MATCH (c:Case {caseId: $caseId})
FOREACH (_ IN CASE WHEN c IS NULL THEN [] ELSE [1] END | MERGE (c)-[:HAS_AUDIT]->(a))
