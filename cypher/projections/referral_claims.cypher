// name: projection_referral_claims
// mode: read
// params: ids: list of referral ids
// returns: the claims that follow these referrals (origin false) and, per referral, the referred patient's last
//          claim at the referring institution at or before the referral (origin true; equal times: the largest
//          claim id); a claim may come twice (once per origin value), the caller keeps the first by (origin, claim_id)
UNWIND $ids AS id
MATCH (r:Referral {referralId: id})
CALL {
  WITH r
  MATCH (r)<-[:FOLLOWS]-(c:Claim)
  RETURN c, false AS origin
  UNION
  WITH r
  MATCH (r)<-[:HAS_REFERRAL]-(p:Patient)
  MATCH (r)-[:REFERRED_FROM]->(i:Institution)
  MATCH (p)-[:HAS_CLAIM]->(c:Claim)
  WHERE c.startTime <= r.referredAt
  MATCH (c)-[:AT]->(i)
  WITH r, c
  ORDER BY c.startTime DESC, c.claimId DESC
  WITH r, head(collect(c)) AS c
  RETURN c, true AS origin
}
WITH DISTINCT c, origin
MATCH (c)<-[:HAS_CLAIM]-(p:Patient)
OPTIONAL MATCH (c)-[:AT]->(i:Institution)
OPTIONAL MATCH (c)-[:FOLLOWS]->(f:Referral)
RETURN c.claimId AS claim_id, p.patientId AS patient_id, i.institutionId AS institution_id, c.startTime AS start_time,
       f.referralId AS referral_id, c.fundAmount AS fund_amount, origin
ORDER BY origin, claim_id
