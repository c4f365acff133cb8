// name: load_doctor_works_at
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Doctor)-[:WORKS_AT]->(:Institution); both ends exist (validated before); plain MERGE, for rows whose node is new (an existing node uses the _replace variant)
UNWIND $rows AS r
MATCH (a:Doctor {doctorId: r.from})
MATCH (b:Institution {institutionId: r.to})
MERGE (a)-[:WORKS_AT]->(b)
