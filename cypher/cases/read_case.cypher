// name: cases_read_case
// mode: read
// params: id: int
// returns: doc — the case document (JSON)
MATCH (c:Case {caseId: $id})
RETURN c.doc AS doc
