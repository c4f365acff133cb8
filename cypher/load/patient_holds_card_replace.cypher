// name: load_patient_holds_card_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Patient)-[:HOLDS]->(:Card); both ends exist (validated before); a Card has one incoming HOLDS: an older one from another node is replaced
UNWIND $rows AS r
MATCH (a:Patient {patientId: r.from})
MATCH (b:Card {cardId: r.to})
WITH a, b
OPTIONAL MATCH (x)-[old:HOLDS]->(b)
WHERE x <> a
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:HOLDS]->(b)
