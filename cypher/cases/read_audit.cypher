// name: cases_read_audit
// mode: read
// params: caseId: int|null (null: every case)
// returns: the audit rows, oldest first
MATCH (a:CaseAudit)
WHERE $caseId IS NULL OR a.caseId = $caseId
RETURN a.auditId AS id, a.caseId AS case_id, a.at AS at, a.actor AS actor, a.action AS action,
       a.field AS field, a.old AS old, a.new AS new
ORDER BY id
