// name: load_regions
// mode: write
// params: rows: list of {key: str, props: map}
// returns: nothing
// MERGE one :Region per row by its code, then set its properties (name, parentCode, lat, lon)
UNWIND $rows AS r
MERGE (n:Region {regionCode: r.key})
SET n += r.props
