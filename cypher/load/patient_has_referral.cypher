// name: load_patient_has_referral
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Patient)-[:HAS_REFERRAL]->(:Referral); both ends exist (validated before); plain MERGE, for rows whose node is new (an existing node uses the _replace variant)
UNWIND $rows AS r
MATCH (a:Patient {patientId: r.from})
MATCH (b:Referral {referralId: r.to})
MERGE (a)-[:HAS_REFERRAL]->(b)
