// name: read_cards
// mode: read
// params: none
// returns: card_id, props, patient_id (the holder), ordered by card id
MATCH (n:Card)
OPTIONAL MATCH (p:Patient)-[:HOLDS]->(n)
RETURN n.cardId AS card_id, properties(n) AS props, p.patientId AS patient_id
ORDER BY card_id
