// name: load_claim_read_on_clear
// mode: write
// params: keys: list of str (keys of Claim nodes updated with an empty terminal)
// returns: nothing
// a later bundle emptied the reference: the (:Claim)-[:READ_ON]->() relationship goes, as the embedded store's value does
UNWIND $keys AS k
MATCH (a:Claim {claimId: k})-[old:READ_ON]->()
DELETE old
