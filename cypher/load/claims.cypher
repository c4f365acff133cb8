// name: load_claims
// mode: write
// params: rows: list of {key: str, props: map}
// returns: nothing
// MERGE one :Claim per row by its key, then set its properties
UNWIND $rows AS r
MERGE (n:Claim {claimId: r.key})
SET n += r.props
