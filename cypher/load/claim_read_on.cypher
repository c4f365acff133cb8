// name: load_claim_read_on
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:READ_ON]->(:Terminal); the target node is created when new; plain MERGE, for rows whose node is new (an existing node uses the _replace variant)
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MERGE (b:Terminal {terminalId: r.to})
MERGE (a)-[:READ_ON]->(b)
