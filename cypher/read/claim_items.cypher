// name: read_claim_items
// mode: read
// params: none
// returns: claim_id, item_key, props, ordered by claim and item key
MATCH (c:Claim)-[:HAS_ITEM]->(i:ClaimItem)
RETURN c.claimId AS claim_id, i.itemKey AS item_key, properties(i) AS props
ORDER BY claim_id, item_key
