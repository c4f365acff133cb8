// name: cases_lock_case
// mode: write
// params: id: int, actor: str
// returns: doc — the case document (JSON), after taking the case's write lock for this transaction
MATCH (c:Case {caseId: $id})
SET c.lockedBy = $actor
RETURN c.doc AS doc
