// name: projection_patient_claims
// mode: read
// params: ids: list of patient ids
// returns: every claim of these people with provider_type / provider_id (columns of
//          graphkit.detectors.rings.patient_claims), by claim id
UNWIND $ids AS id
MATCH (p:Patient {patientId: id})-[:HAS_CLAIM]->(c:Claim)
OPTIONAL MATCH (c)-[:AT]->(i:Institution)
OPTIONAL MATCH (c)-[:AT]->(y:Pharmacy)
OPTIONAL MATCH (c)-[:TREATED_BY]->(d:Doctor)
RETURN c.claimId AS claim_id, p.patientId AS patient_id, c.claimType AS claim_type, d.doctorId AS doctor_id,
       c.startTime AS start_time, c.endTime AS end_time, c.diagnosisCode AS diagnosis_code, c.fundAmount AS fund_amount,
       CASE WHEN i IS NOT NULL THEN 'institution' ELSE 'pharmacy' END AS provider_type,
       coalesce(i.institutionId, y.pharmacyId) AS provider_id
ORDER BY claim_id
