// name: load_patient_has_bank_account
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Patient)-[:HAS_BANK_ACCOUNT]->(:BankAccount); the target node is created when new
UNWIND $rows AS r
MATCH (a:Patient {patientId: r.from})
MERGE (b:BankAccount {value: r.to})
MERGE (a)-[:HAS_BANK_ACCOUNT]->(b)
