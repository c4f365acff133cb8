// name: load_claim_at_pharmacy_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:AT]->(:Pharmacy); both ends exist (validated before); a Claim has one AT: an older one to another node is replaced
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MATCH (b:Pharmacy {pharmacyId: r.to})
WITH a, b
OPTIONAL MATCH (a)-[old:AT]->(x)
WHERE x <> b
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:AT]->(b)
