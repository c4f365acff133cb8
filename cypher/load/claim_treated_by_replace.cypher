// name: load_claim_treated_by_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:TREATED_BY]->(:Doctor); both ends exist (validated before); a Claim has one TREATED_BY: an older one to another node is replaced
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MATCH (b:Doctor {doctorId: r.to})
WITH a, b
OPTIONAL MATCH (a)-[old:TREATED_BY]->(x)
WHERE x <> b
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:TREATED_BY]->(b)
