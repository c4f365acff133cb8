// name: cases_save_case
// mode: write
// params: id: int, doc: str (JSON), status: str, title: str, updatedAt: str
// returns: nothing
MERGE (c:Case {caseId: $id})
SET c.doc = $doc, c.status = $status, c.title = $title, c.updatedAt = $updatedAt
