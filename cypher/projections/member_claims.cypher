// name: projection_member_claims
// mode: read
// params: ids: list of patient ids
// returns: the claims settled for these people with their card and provider_type / provider_id (columns of
//          graphkit.detectors.identity.member_claims), by claim id
UNWIND $ids AS id
MATCH (p:Patient {patientId: id})-[:HAS_CLAIM]->(c:Claim)
OPTIONAL MATCH (c)-[:PAID_WITH]->(k:Card)
OPTIONAL MATCH (c)-[:AT]->(i:Institution)
OPTIONAL MATCH (c)-[:AT]->(y:Pharmacy)
RETURN c.claimId AS claim_id, p.patientId AS patient_id, k.cardId AS card_id, c.startTime AS start_time,
       c.fundAmount AS fund_amount,
       CASE WHEN i IS NOT NULL THEN 'institution' ELSE 'pharmacy' END AS provider_type,
       coalesce(i.institutionId, y.pharmacyId) AS provider_id
ORDER BY claim_id
