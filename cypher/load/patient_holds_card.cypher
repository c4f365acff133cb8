// name: load_patient_holds_card
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Patient)-[:HOLDS]->(:Card); both ends exist (validated before); plain MERGE, for rows whose node is new (an existing node uses the _replace variant)
UNWIND $rows AS r
MATCH (a:Patient {patientId: r.from})
MATCH (b:Card {cardId: r.to})
MERGE (a)-[:HOLDS]->(b)
