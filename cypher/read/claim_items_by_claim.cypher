// name: read_claim_items_by_claim
// mode: read
// params: ids: list of claim ids
// returns: like read_claim_items, for these claims only
UNWIND $ids AS id
MATCH (c:Claim {claimId: id})-[:HAS_ITEM]->(i:ClaimItem)
RETURN c.claimId AS claim_id, i.itemKey AS item_key, properties(i) AS props
ORDER BY claim_id, item_key
