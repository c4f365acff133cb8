// name: load_referral_to
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Referral)-[:REFERRED_TO]->(:Institution); both ends exist (validated before); plain MERGE, for rows whose node is new (an existing node uses the _replace variant)
UNWIND $rows AS r
MATCH (a:Referral {referralId: r.from})
MATCH (b:Institution {institutionId: r.to})
MERGE (a)-[:REFERRED_TO]->(b)
