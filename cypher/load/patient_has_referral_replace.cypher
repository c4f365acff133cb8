// name: load_patient_has_referral_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Patient)-[:HAS_REFERRAL]->(:Referral); both ends exist (validated before); a Referral has one incoming HAS_REFERRAL: an older one from another node is replaced
UNWIND $rows AS r
MATCH (a:Patient {patientId: r.from})
MATCH (b:Referral {referralId: r.to})
WITH a, b
OPTIONAL MATCH (x)-[old:HAS_REFERRAL]->(b)
WHERE x <> a
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:HAS_REFERRAL]->(b)
