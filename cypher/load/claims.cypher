// name: load_claims
// mode: write
// params: rows: list of {key: str, props: map}
// returns: nothing
// Claims already in the graph (updated by a later bundle, or a forced re-run): MERGE one :Claim per row by its key, then set its properties; new claims go through load/claims_create
UNWIND $rows AS r
MERGE (n:Claim {claimId: r.key})
SET n += r.props
