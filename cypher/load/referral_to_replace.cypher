// name: load_referral_to_replace
// mode: write
// params: rows: list of {from: str, to: str}
// returns: nothing
// (:Referral)-[:REFERRED_TO]->(:Institution); both ends exist (validated before); a Referral has one REFERRED_TO: an older one to another node is replaced
UNWIND $rows AS r
MATCH (a:Referral {referralId: r.from})
MATCH (b:Institution {institutionId: r.to})
WITH a, b
OPTIONAL MATCH (a)-[old:REFERRED_TO]->(x)
WHERE x <> b
DELETE old
WITH DISTINCT a, b
MERGE (a)-[:REFERRED_TO]->(b)
