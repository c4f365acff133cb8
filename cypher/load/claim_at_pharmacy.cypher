// name: load_claim_at_pharmacy
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:AT]->(:Pharmacy); both ends exist (validated before); plain MERGE, for rows whose node is new (an existing node uses the _replace variant)
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MATCH (b:Pharmacy {pharmacyId: r.to})
MERGE (a)-[:AT]->(b)
