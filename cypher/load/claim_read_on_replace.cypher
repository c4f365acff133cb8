// name: load_claim_read_on_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:READ_ON]->(:Terminal); the target node is created when new; a Claim has one READ_ON: an older one to another node is replaced
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MERGE (b:Terminal {terminalId: r.to})
WITH a, b
OPTIONAL MATCH (a)-[old:READ_ON]->(x)
WHERE x <> b
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:READ_ON]->(b)
