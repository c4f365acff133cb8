// name: load_doctor_works_at_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Doctor)-[:WORKS_AT]->(:Institution); both ends exist (validated before); a Doctor has one WORKS_AT: an older one to another node is replaced
UNWIND $rows AS r
MATCH (a:Doctor {doctorId: r.from})
MATCH (b:Institution {institutionId: r.to})
WITH a, b
OPTIONAL MATCH (a)-[old:WORKS_AT]->(x)
WHERE x <> b
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:WORKS_AT]->(b)
