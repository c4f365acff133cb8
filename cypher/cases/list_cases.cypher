// name: cases_list_cases
// mode: read
// params: none
// returns: doc of every case, newest first
MATCH (c:Case)
RETURN c.doc AS doc
ORDER BY c.caseId DESC
