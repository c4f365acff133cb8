// name: load_patient_family_of
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Patient)-[:FAMILY_OF]->(:Patient); both ends exist (validated before)
UNWIND $rows AS r
MATCH (a:Patient {patientId: r.from})
MATCH (b:Patient {patientId: r.to})
MERGE (a)-[:FAMILY_OF]->(b)
