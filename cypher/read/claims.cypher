// name: read_claims
// mode: read
// params: none
// returns: props (map of the claim's own properties) and its references as bundle columns, ordered by claim id
MATCH (c:Claim)
OPTIONAL MATCH (c)-[:PAID_WITH]->(k:Card)
OPTIONAL MATCH (p:Patient)-[:HAS_CLAIM]->(c)
OPTIONAL MATCH (c)-[:AT]->(i:Institution)
OPTIONAL MATCH (c)-[:AT]->(y:Pharmacy)
OPTIONAL MATCH (c)-[:TREATED_BY]->(d:Doctor)
OPTIONAL MATCH (c)-[:FOLLOWS]->(r:Referral)
OPTIONAL MATCH (c)-[:READ_ON]->(t:Terminal)
RETURN c.claimId AS claim_id, properties(c) AS props, k.cardId AS card_id, p.patientId AS patient_id,
       i.institutionId AS institution_id, y.pharmacyId AS pharmacy_id, d.doctorId AS doctor_id,
       r.referralId AS referral_id, t.terminalId AS terminal_id
ORDER BY claim_id
