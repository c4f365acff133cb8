// name: read_referrals
// mode: read
// params: none
// returns: referral_id, props and the referral's references as bundle columns, ordered by referral id
MATCH (n:Referral)
OPTIONAL MATCH (p:Patient)-[:HAS_REFERRAL]->(n)
OPTIONAL MATCH (n)-[:REFERRED_FROM]->(f:Institution)
OPTIONAL MATCH (n)-[:REFERRED_TO]->(t:Institution)
OPTIONAL MATCH (n)-[:REFERRED_BY]->(d:Doctor)
RETURN n.referralId AS referral_id, properties(n) AS props, p.patientId AS patient_id,
       f.institutionId AS from_institution_id, d.doctorId AS from_doctor_id, t.institutionId AS to_institution_id
ORDER BY referral_id
