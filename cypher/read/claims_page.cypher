// name: read_claims_page
// mode: read
// params: after: claim id the previous page ended with ('' for the first page), limit: claims per page
// returns: like read_claims, for the next `limit` claims in claim-id order after `after`
// Keyset paging over the :Claim(claimId) index: a large claims table is read page by page
// (bounded memory on the client) without SKIP, which would rescan the skipped claims.
MATCH (c:Claim)
WHERE c.claimId > $after
WITH c ORDER BY c.claimId LIMIT $limit
OPTIONAL MATCH (c)-[:PAID_WITH]->(k:Card)
OPTIONAL MATCH (p:Patient)-[:HAS_CLAIM]->(c)
OPTIONAL MATCH (c)-[:AT]->(i:Institution)
OPTIONAL MATCH (c)-[:AT]->(y:Pharmacy)
OPTIONAL MATCH (c)-[:TREATED_BY]->(d:Doctor)
OPTIONAL MATCH (c)-[:FOLLOWS]->(r:Referral)
OPTIONAL MATCH (c)-[:READ_ON]->(t:Terminal)
RETURN c.claimId AS claim_id, properties(c) AS props, k.cardId AS card_id, p.patientId AS patient_id,
       i.institutionId AS institution_id, y.pharmacyId AS pharmacy_id, d.doctorId AS doctor_id,
       r.referralId AS referral_id, t.terminalId AS terminal_id
ORDER BY claim_id
