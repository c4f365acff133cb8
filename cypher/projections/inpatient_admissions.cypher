// name: projection_inpatient_admissions
// mode: read
// params: none
// returns: inpatient claims settled at institutions (who was admitted where, when, under whom, for how much, and the
//          referral the admission follows, if any), by claim id
MATCH (c:Claim)-[:AT]->(i:Institution)
WHERE c.claimType = 'inpatient'
MATCH (p:Patient)-[:HAS_CLAIM]->(c)
OPTIONAL MATCH (c)-[:TREATED_BY]->(d:Doctor)
OPTIONAL MATCH (c)-[:FOLLOWS]->(r:Referral)
RETURN c.claimId AS claim_id, p.patientId AS patient_id, i.institutionId AS institution_id, d.doctorId AS doctor_id,
       c.startTime AS start_time, c.endTime AS end_time, c.diagnosisCode AS diagnosis_code, c.fundAmount AS fund_amount,
       r.referralId AS referral_id
ORDER BY claim_id
