// name: projection_referral_sequences
// mode: read
// params: maxGapSeconds: float
// returns: every referral of a patient in order (referred_at, then referral id) with linked = it starts where the
//          patient's previous referral led, at most maxGapSeconds later (the caller numbers chains and steps)
MATCH (p:Patient)-[:HAS_REFERRAL]->(r:Referral)
WHERE r.referredAt IS NOT NULL
OPTIONAL MATCH (r)-[:REFERRED_FROM]->(f:Institution)
OPTIONAL MATCH (r)-[:REFERRED_TO]->(t:Institution)
OPTIONAL MATCH (r)-[:REFERRED_BY]->(d:Doctor)
WITH p, r, f, t, d
ORDER BY r.referredAt, r.referralId
WITH p, collect({id: r.referralId, at: r.referredAt, fromId: f.institutionId, toId: t.institutionId,
                 doctorId: d.doctorId}) AS rs
UNWIND range(0, size(rs) - 1) AS k
WITH p, rs[k] AS r, CASE WHEN k > 0 THEN rs[k - 1] END AS prev
RETURN r.id AS referral_id, p.patientId AS patient_id, r.fromId AS from_institution_id, r.toId AS to_institution_id,
       r.doctorId AS from_doctor_id, r.at AS referred_at,
       coalesce(prev IS NOT NULL AND r.fromId = prev.toId
                AND duration.inSeconds(prev.at, r.at).seconds <= $maxGapSeconds, false) AS linked
ORDER BY patient_id, referred_at, referral_id
