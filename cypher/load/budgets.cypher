// name: load_budgets
// mode: write
// params: rows: list of {key: str (providerType:providerId:year), props: map}
// returns: nothing
// MERGE one :Budget per provider and year, then set its properties
UNWIND $rows AS r
MERGE (n:Budget {budgetKey: r.key})
SET n += r.props
