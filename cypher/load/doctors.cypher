// name: load_doctors
// mode: write
// params: rows: list of {key: str, props: map}
// returns: nothing
// MERGE one :Doctor per row by its key, then set its properties
UNWIND $rows AS r
MERGE (n:Doctor {doctorId: r.key})
SET n += r.props
