// name: load_claim_follows_clear
// mode: write
// params: keys: list of str (keys of Claim nodes updated with an empty referral)
// returns: nothing
// a later bundle emptied the reference: the (:Claim)-[:FOLLOWS]->() relationship goes, as the embedded store's value does
UNWIND $keys AS k
MATCH (a:Claim {claimId: k})-[old:FOLLOWS]->()
DELETE old
