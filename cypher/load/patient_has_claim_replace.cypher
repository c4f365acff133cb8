// name: load_patient_has_claim_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Patient)-[:HAS_CLAIM]->(:Claim); both ends exist (validated before); a Claim has one incoming HAS_CLAIM: an older one from another node is replaced
UNWIND $rows AS r
MATCH (a:Patient {patientId: r.from})
MATCH (b:Claim {claimId: r.to})
WITH a, b
OPTIONAL MATCH (x)-[old:HAS_CLAIM]->(b)
WHERE x <> a
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:HAS_CLAIM]->(b)
