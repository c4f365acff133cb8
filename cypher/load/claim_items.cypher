// name: load_claim_items
// mode: write
// params: rows: list of {claimId: str, key: str, props: map}
// returns: nothing
// (:Claim)-[:HAS_ITEM]->(:ClaimItem); itemKey = claimId#ordinal; for claims already in the graph, after load/claim_items_clear (items of new claims are CREATEd by load/claims_create)
UNWIND $rows AS r
MATCH (c:Claim {claimId: r.claimId})
MERGE (i:ClaimItem {itemKey: r.key})
SET i += r.props
MERGE (c)-[:HAS_ITEM]->(i)
