// name: load_patient_has_phone
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Patient)-[:HAS_PHONE]->(:Phone); the target node is created when new
UNWIND $rows AS r
MATCH (a:Patient {patientId: r.from})
MERGE (b:Phone {value: r.to})
MERGE (a)-[:HAS_PHONE]->(b)
