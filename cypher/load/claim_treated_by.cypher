// name: load_claim_treated_by
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:TREATED_BY]->(:Doctor); both ends exist (validated before); plain MERGE, for rows whose node is new (an existing node uses the _replace variant)
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MATCH (b:Doctor {doctorId: r.to})
MERGE (a)-[:TREATED_BY]->(b)
