// name: load_patient_has_device
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Patient)-[:HAS_DEVICE]->(:Device); the target node is created when new
UNWIND $rows AS r
MATCH (a:Patient {patientId: r.from})
MERGE (b:Device {value: r.to})
MERGE (a)-[:HAS_DEVICE]->(b)
