// name: load_claim_at_institution
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:AT]->(:Institution); both ends exist (validated before); plain MERGE, for rows whose node is new (an existing node uses the _replace variant)
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MATCH (b:Institution {institutionId: r.to})
MERGE (a)-[:AT]->(b)
