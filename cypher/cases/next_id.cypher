// name: cases_next_id
// mode: write
// params: counter: str ('cases' or 'case_audit')
// returns: id — the next number of that sequence (taken inside the caller's transaction)
MERGE (m:GraphkitMeta {key: $counter})
ON CREATE SET m.next = 0
SET m.next = m.next + 1
RETURN m.next AS id
