// name: load_claim_items_clear
// mode: write
// params: claimIds: list of str
// returns: nothing
// a claim's items are replaced as a whole: remove the old ones first
UNWIND $claimIds AS cid
MATCH (:Claim {claimId: cid})-[:HAS_ITEM]->(i:ClaimItem)
DETACH DELETE i
