// name: projection_stay_overlaps
// mode: read
// params: edgeDays: int
// returns: per inpatient stay (an inpatient claim with an end time), the claims settled during it — by the same
//          person (via 'person') or on one of the person's cards by someone else (via 'card') — that start in
//          [admission, discharge) on a calendar day from admission day + edgeDays to discharge day - edgeDays,
//          and not at the stay's own institution (region and distance are added by the caller)
MATCH (sp:Patient)-[:HAS_CLAIM]->(s:Claim)
WHERE s.claimType = 'inpatient' AND s.endTime IS NOT NULL
WITH sp, s, date(s.startTime) + duration({days: $edgeDays}) AS firstDay,
     date(s.endTime) - duration({days: $edgeDays}) AS lastDay
WHERE firstDay <= lastDay
CALL {
  WITH sp, s
  MATCH (sp)-[:HAS_CLAIM]->(c:Claim)
  WHERE c <> s AND c.startTime >= s.startTime AND c.startTime < s.endTime
  RETURN c, sp AS p, 'person' AS via
  UNION
  WITH sp, s
  MATCH (sp)-[:HOLDS]->(:Card)<-[:PAID_WITH]-(c:Claim)<-[:HAS_CLAIM]-(p:Patient)
  WHERE p <> sp AND c.startTime >= s.startTime AND c.startTime < s.endTime
  RETURN c, p, 'card' AS via
}
WITH sp, s, c, p, via, firstDay, lastDay
WHERE date(c.startTime) >= firstDay AND date(c.startTime) <= lastDay
OPTIONAL MATCH (s)-[:AT]->(si:Institution)
OPTIONAL MATCH (c)-[:AT]->(ci:Institution)
WITH sp, s, c, p, via, si, ci
WHERE si IS NULL OR ci IS NULL OR si <> ci
OPTIONAL MATCH (c)-[:AT]->(cy:Pharmacy)
OPTIONAL MATCH (c)-[:PAID_WITH]->(k:Card)
RETURN s.claimId AS stay_claim, sp.patientId AS stay_patient, si.institutionId AS stay_institution,
       s.startTime AS stay_start, s.endTime AS stay_end, s.fundAmount AS stay_fund, c.claimId AS claim_id, via,
       p.patientId AS patient_id, k.cardId AS card_id, c.claimType AS claim_type,
       CASE WHEN ci IS NOT NULL THEN 'institution' ELSE 'pharmacy' END AS provider_type,
       coalesce(ci.institutionId, cy.pharmacyId) AS provider_id, c.startTime AS start_time, c.fundAmount AS fund_amount
ORDER BY via DESC, stay_claim, start_time, claim_id
