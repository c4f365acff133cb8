// name: load_claim_follows
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Claim)-[:FOLLOWS]->(:Referral); both ends exist (validated before); plain MERGE, for rows whose node is new (an existing node uses the _replace variant)
UNWIND $rows AS r
MATCH (a:Claim {claimId: r.from})
MATCH (b:Referral {referralId: r.to})
MERGE (a)-[:FOLLOWS]->(b)
