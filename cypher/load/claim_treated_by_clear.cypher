// name: load_claim_treated_by_clear
// mode: write
// params: keys: list of str (keys of Claim nodes updated with an empty doctor)
// returns: nothing
// a later bundle emptied the reference: the (:Claim)-[:TREATED_BY]->() relationship goes, as the embedded store's value does
UNWIND $keys AS k
MATCH (a:Claim {claimId: k})-[old:TREATED_BY]->()
DELETE old
