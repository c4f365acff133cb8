// name: projection_identical_claims
// mode: read
// params: none
// returns: claims that have an identical twin — same person, provider, claim type, diagnosis, total and fund
//          amount, any time apart (duplicate_claim's double-settlement candidates), by claim id
//          (graphkit.detectors.duplicates.identical_claims)
MATCH (p:Patient)-[:HAS_CLAIM]->(c:Claim)-[:AT]->(v)
WHERE c.startTime IS NOT NULL
WITH p, v, c.claimType AS claim_type, coalesce(c.diagnosisCode, '') AS dx, round(c.totalAmount * 100) AS total,
     round(c.fundAmount * 100) AS fund, collect(c) AS twins
WHERE size(twins) > 1
UNWIND twins AS c
OPTIONAL MATCH (c)-[:TREATED_BY]->(d:Doctor)
RETURN c.claimId AS claim_id, p.patientId AS patient_id,
       CASE WHEN v:Institution THEN 'institution' ELSE 'pharmacy' END AS provider_type,
       coalesce(v.institutionId, v.pharmacyId) AS provider_id, d.doctorId AS doctor_id, c.claimType AS claim_type,
       c.startTime AS start_time, c.diagnosisCode AS diagnosis_code, c.totalAmount AS total_amount,
       c.fundAmount AS fund_amount
ORDER BY claim_id
