// name: load_referral_by_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Referral)-[:REFERRED_BY]->(:Doctor); both ends exist (validated before); a Referral has one REFERRED_BY: an older one to another node is replaced
UNWIND $rows AS r
MATCH (a:Referral {referralId: r.from})
MATCH (b:Doctor {doctorId: r.to})
WITH a, b
OPTIONAL MATCH (a)-[old:REFERRED_BY]->(x)
WHERE x <> b
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:REFERRED_BY]->(b)
