// name: load_claim_paid_with_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:PAID_WITH]->(:Card); both ends exist (validated before); a Claim has one PAID_WITH: an older one to another node is replaced
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MATCH (b:Card {cardId: r.to})
WITH a, b
OPTIONAL MATCH (a)-[old:PAID_WITH]->(x)
WHERE x <> b
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:PAID_WITH]->(b)
