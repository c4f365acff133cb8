// name: projection_travel_pairs_patient
// mode: read
// params: maxGapSeconds: int
// returns: consecutive settlements of one person at different providers within maxGapSeconds
MATCH (p:Patient)-[:HAS_CLAIM]->(c:Claim)-[:AT]->(v)
MATCH (c)-[:PAID_WITH]->(k:Card)
WITH p, c, v, k
ORDER BY c.startTime, c.claimId
WITH p, collect({claim: c.claimId, t: c.startTime, fund: c.fundAmount, card: k.cardId,
                 provider: coalesce('institution:' + v.institutionId, 'pharmacy:' + v.pharmacyId)}) AS cs
WHERE size(cs) > 1
UNWIND range(0, size(cs) - 2) AS i
WITH p, cs[i] AS a, cs[i + 1] AS b
WHERE a.provider <> b.provider AND duration.inSeconds(a.t, b.t).seconds <= $maxGapSeconds
RETURN p.patientId AS key, a.claim AS claim_a, b.claim AS claim_b, a.card AS card_a, b.card AS card_b,
       p.patientId AS patient_a, p.patientId AS patient_b, a.t AS time_a, b.t AS time_b,
       a.provider AS provider_a, b.provider AS provider_b, a.fund AS fund_a, b.fund AS fund_b
ORDER BY key, time_a, claim_a
