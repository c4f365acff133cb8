// name: load_patients
// mode: write
// params: rows: list of {key: str, props: map}
// returns: nothing
// MERGE one :Patient per row by its key, then set its properties
UNWIND $rows AS r
MERGE (n:Patient {patientId: r.key})
SET n += r.props
