// name: projection_card_patient_counts
// mode: read
// params: none
// returns: claims per (card, settled person): card_id, patient_id, claims (graphkit.projections.card_patient_counts)
MATCH (p:Patient)-[:HAS_CLAIM]->(c:Claim)-[:PAID_WITH]->(k:Card)
RETURN k.cardId AS card_id, p.patientId AS patient_id, count(c) AS claims
ORDER BY card_id, patient_id
