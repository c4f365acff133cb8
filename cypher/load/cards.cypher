// name: load_cards
// mode: write
// params: rows: list of {key: str, props: map}
// returns: nothing
// MERGE one :Card per row by its key, then set its properties
UNWIND $rows AS r
MERGE (n:Card {cardId: r.key})
SET n += r.props
