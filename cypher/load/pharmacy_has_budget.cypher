// name: load_pharmacy_has_budget
// mode: write
// params: rows: list of {from: str (pharmacyId), to: str (budgetKey)}
// returns: nothing
// (:Pharmacy)-[:HAS_BUDGET]->(:Budget); both ends exist (validated before)
UNWIND $rows AS r
MATCH (a:Pharmacy {pharmacyId: r.from})
MATCH (b:Budget {budgetKey: r.to})
MERGE (a)-[:HAS_BUDGET]->(b)
