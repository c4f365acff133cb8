// name: projection_travel_pairs_card
// mode: read
// params: maxGapSeconds: int
// returns: consecutive settlements of one card at different providers within maxGapSeconds
//          (distances are added from provider places by the caller)
MATCH (k:Card)<-[:PAID_WITH]-(c:Claim)-[:AT]->(v)
MATCH (p:Patient)-[:HAS_CLAIM]->(c)
WITH k, c, v, p
ORDER BY c.startTime, c.claimId
WITH k, collect({claim: c.claimId, t: c.startTime, fund: c.fundAmount, patient: p.patientId,
                 provider: coalesce('institution:' + v.institutionId, 'pharmacy:' + v.pharmacyId)}) AS cs
WHERE size(cs) > 1
UNWIND range(0, size(cs) - 2) AS i
WITH k, cs[i] AS a, cs[i + 1] AS b
WHERE a.provider <> b.provider AND duration.inSeconds(a.t, b.t).seconds <= $maxGapSeconds
RETURN k.cardId AS key, a.claim AS claim_a, b.claim AS claim_b, k.cardId AS card_a, k.cardId AS card_b,
       a.patient AS patient_a, b.patient AS patient_b, a.t AS time_a, b.t AS time_b,
       a.provider AS provider_a, b.provider AS provider_b, a.fund AS fund_a, b.fund AS fund_b
ORDER BY key, time_a, claim_a
