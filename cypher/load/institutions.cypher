// name: load_institutions
// mode: write
// params: rows: list of {key: str, props: map}
// returns: nothing
// MERGE one :Institution per row by its key, then set its properties
UNWIND $rows AS r
MERGE (n:Institution {institutionId: r.key})
SET n += r.props
