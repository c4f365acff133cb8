// name: projection_readmission_steps
// mode: read
// params: windowDays: int
// returns: per patient, the consecutive pairs (a, b) of their inpatient stays at institutions (sorted by admission
//          time, then claim id) where b is admitted 0..windowDays calendar days after a's discharge day, with both
//          stays, whether b follows a referral, whether a referral links the two institutions (either direction),
//          and the patient's smallest stay claim id; diagnosis groups, weights and chains are left to the caller
MATCH (p:Patient)-[:HAS_CLAIM]->(c:Claim)-[:AT]->(i:Institution)
WHERE c.claimType = 'inpatient' AND c.endTime IS NOT NULL
OPTIONAL MATCH (c)-[:FOLLOWS]->(r:Referral)
WITH p, c, i, r
ORDER BY c.startTime, c.claimId
WITH p, collect({claim: c.claimId, inst: i.institutionId, node: i, t0: c.startTime, t1: c.endTime,
                 dx: c.diagnosisCode, fund: c.fundAmount, referred: r IS NOT NULL}) AS st
WHERE size(st) > 1
WITH p, st, reduce(m = st[0].claim, x IN st | CASE WHEN x.claim < m THEN x.claim ELSE m END) AS firstClaim
UNWIND range(1, size(st) - 1) AS k
WITH p, firstClaim, st[k - 1] AS a, st[k] AS b
WITH p, firstClaim, a, b, duration.inDays(date(a.t1), date(b.t0)).days AS gap
WHERE gap >= 0 AND gap <= $windowDays
WITH p, firstClaim, a, b, gap, a.node AS ia, b.node AS ib
RETURN p.patientId AS patient_id, firstClaim AS first_claim, gap,
       a.claim AS claim_a, a.inst AS institution_a, a.t0 AS start_a, a.t1 AS end_a, a.dx AS dx_a, a.fund AS fund_a,
       b.claim AS claim_b, b.inst AS institution_b, b.t0 AS start_b, b.t1 AS end_b, b.dx AS dx_b, b.fund AS fund_b,
       b.referred AS referred_b,
       ia <> ib AND (EXISTS { MATCH (ia)<-[:REFERRED_FROM]-(:Referral)-[:REFERRED_TO]->(ib) }
                     OR EXISTS { MATCH (ib)<-[:REFERRED_FROM]-(:Referral)-[:REFERRED_TO]->(ia) }) AS linked
ORDER BY patient_id, start_a, claim_a
