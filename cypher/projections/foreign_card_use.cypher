// name: projection_foreign_card_use
// mode: read
// params: none
// returns: claims settled for someone other than the card's holder (columns of graphkit.projections.foreign_card_use)
MATCH (h:Patient)-[:HOLDS]->(k:Card)<-[:PAID_WITH]-(c:Claim)<-[:HAS_CLAIM]-(p:Patient)
WHERE h <> p
OPTIONAL MATCH (c)-[:AT]->(v)
OPTIONAL MATCH (c)-[:TREATED_BY]->(d:Doctor)
RETURN c.claimId AS claim_id, k.cardId AS card_id, h.patientId AS holder_id, p.patientId AS patient_id,
       c.startTime AS start_time, c.fundAmount AS fund_amount, d.doctorId AS doctor_id,
       CASE WHEN v.institutionId IS NOT NULL THEN 'institution' ELSE 'pharmacy' END AS provider_type,
       coalesce(v.institutionId, v.pharmacyId) AS provider_id
ORDER BY claim_id
