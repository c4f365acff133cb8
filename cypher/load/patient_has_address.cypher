// name: load_patient_has_address
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Patient)-[:HAS_ADDRESS]->(:Address); the target node is created when new
UNWIND $rows AS r
MATCH (a:Patient {patientId: r.from})
MERGE (b:Address {value: r.to})
MERGE (a)-[:HAS_ADDRESS]->(b)
