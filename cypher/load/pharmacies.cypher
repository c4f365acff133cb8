// name: load_pharmacies
// mode: write
// params: rows: list of {key: str, props: map}
// returns: nothing
// MERGE one :Pharmacy per row by its key, then set its properties
UNWIND $rows AS r
MERGE (n:Pharmacy {pharmacyId: r.key})
SET n += r.props
