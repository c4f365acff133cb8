// name: load_claim_paid_with
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:PAID_WITH]->(:Card); both ends exist (validated before); plain MERGE, for rows whose node is new (an existing node uses the _replace variant)
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MATCH (b:Card {cardId: r.to})
MERGE (a)-[:PAID_WITH]->(b)
