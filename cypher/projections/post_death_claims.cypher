// name: projection_post_death_claims
// mode: read
// params: graceDays: int
// returns: claims starting on a calendar day after (death date + graceDays) of the settled person
//          (via 'patient') or of the card's holder when that is someone else (via 'card_holder')
MATCH (dead:Patient)
WHERE dead.deathDate IS NOT NULL
CALL {
  WITH dead
  MATCH (dead)-[:HAS_CLAIM]->(c:Claim)
  RETURN c, dead AS p, 'patient' AS via
  UNION
  WITH dead
  MATCH (dead)-[:HOLDS]->(:Card)<-[:PAID_WITH]-(c:Claim)<-[:HAS_CLAIM]-(p:Patient)
  WHERE p <> dead
  RETURN c, p, 'card_holder' AS via
}
WITH dead, c, p, via
WHERE date(c.startTime) >= dead.deathDate + duration({days: $graceDays + 1})
MATCH (c)-[:PAID_WITH]->(k:Card)
OPTIONAL MATCH (c)-[:AT]->(v)
OPTIONAL MATCH (c)-[:TREATED_BY]->(d:Doctor)
RETURN c.claimId AS claim_id, k.cardId AS card_id, p.patientId AS patient_id, c.claimType AS claim_type,
       c.startTime AS start_time, c.fundAmount AS fund_amount, d.doctorId AS doctor_id,
       dead.patientId AS deceased_id, dead.deathDate AS death_date, via,
       CASE WHEN v.institutionId IS NOT NULL THEN 'institution' ELSE 'pharmacy' END AS provider_type,
       coalesce(v.institutionId, v.pharmacyId) AS provider_id
ORDER BY via DESC, claim_id
