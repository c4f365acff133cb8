// name: load_referral_by
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Referral)-[:REFERRED_BY]->(:Doctor); both ends exist (validated before); plain MERGE, for rows whose node is new (an existing node uses the _replace variant)
UNWIND $rows AS r
MATCH (a:Referral {referralId: r.from})
MATCH (b:Doctor {doctorId: r.to})
MERGE (a)-[:REFERRED_BY]->(b)
