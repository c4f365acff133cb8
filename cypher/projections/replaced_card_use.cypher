// name: projection_replaced_card_use
// mode: read
// params: graceDays: int
// returns: claims on a lost/cancelled physical card after its holder was issued a newer physical card
//          (+ graceDays); an e-voucher (kind 'e_voucher') never replaces a card nor is replaced; a card
//          without kind counts as physical (graphkit.projections.card_replacements)
MATCH (h:Patient)-[:HOLDS]->(old:Card)
WHERE old.status IN ['lost', 'cancelled'] AND old.issuedDate IS NOT NULL AND coalesce(old.kind, 'physical') = 'physical'
MATCH (h)-[:HOLDS]->(new:Card)
WHERE new <> old AND new.issuedDate > old.issuedDate AND coalesce(new.kind, 'physical') = 'physical'
WITH h, old, min(new.issuedDate) AS replacedOn
MATCH (old)<-[:PAID_WITH]-(c:Claim)<-[:HAS_CLAIM]-(p:Patient)
WHERE c.startTime > localdatetime({date: replacedOn}) + duration({days: $graceDays})
OPTIONAL MATCH (c)-[:AT]->(v)
OPTIONAL MATCH (c)-[:TREATED_BY]->(d:Doctor)
RETURN c.claimId AS claim_id, old.cardId AS card_id, p.patientId AS patient_id, h.patientId AS holder_id,
       c.startTime AS start_time, c.fundAmount AS fund_amount, d.doctorId AS doctor_id, replacedOn AS replaced_on,
       CASE WHEN v.institutionId IS NOT NULL THEN 'institution' ELSE 'pharmacy' END AS provider_type,
       coalesce(v.institutionId, v.pharmacyId) AS provider_id
ORDER BY claim_id
