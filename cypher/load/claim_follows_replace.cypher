// name: load_claim_follows_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:FOLLOWS]->(:Referral); both ends exist (validated before); a Claim has one FOLLOWS: an older one to another node is replaced
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MATCH (b:Referral {referralId: r.to})
WITH a, b
OPTIONAL MATCH (a)-[old:FOLLOWS]->(x)
WHERE x <> b
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:FOLLOWS]->(b)
