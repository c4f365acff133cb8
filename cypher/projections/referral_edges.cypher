// name: projection_referral_edges
// mode: read
// params: none
// returns: per directed institution pair (from <> to): referrals and distinct referred patients; the totals,
//          expectation and Poisson surprise are added by the caller from these rows
MATCH (r:Referral)-[:REFERRED_FROM]->(f:Institution)
MATCH (r)-[:REFERRED_TO]->(t:Institution)
WHERE f <> t
OPTIONAL MATCH (p:Patient)-[:HAS_REFERRAL]->(r)
RETURN f.institutionId AS from_institution_id, t.institutionId AS to_institution_id, count(r) AS referrals,
       count(DISTINCT p.patientId) AS patients
ORDER BY from_institution_id, to_institution_id
