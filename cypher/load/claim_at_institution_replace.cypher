// name: load_claim_at_institution_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:AT]->(:Institution); both ends exist (validated before); a Claim has one AT: an older one to another node is replaced
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MATCH (b:Institution {institutionId: r.to})
WITH a, b
OPTIONAL MATCH (a)-[old:AT]->(x)
WHERE x <> b
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:AT]->(b)
