// name: load_institution_has_budget
// mode: write
// params: rows: list of {from: str (institutionId), to: str (budgetKey)}
// returns: nothing
// (:Institution)-[:HAS_BUDGET]->(:Budget); both ends exist (validated before)
UNWIND $rows AS r
MATCH (a:Institution {institutionId: r.from})
MATCH (b:Budget {budgetKey: r.to})
MERGE (a)-[:HAS_BUDGET]->(b)
