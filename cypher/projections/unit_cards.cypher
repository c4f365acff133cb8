// name: projection_unit_cards
// mode: read
// params: terminalIds: list of str, institutionIds: list of str, pharmacyIds: list of str
// returns: unit ("terminal:<id>", "institution:<id>", "pharmacy:<id>"), claims, cards (distinct cards settled there)
// How many people a terminal or provider serves (impossible_travel's remote-channel check).
UNWIND $terminalIds AS id
MATCH (:Terminal {terminalId: id})<-[:READ_ON]-(c:Claim)-[:PAID_WITH]->(k:Card)
RETURN 'terminal:' + id AS unit, count(c) AS claims, count(DISTINCT k) AS cards
UNION ALL
UNWIND $institutionIds AS id
MATCH (:Institution {institutionId: id})<-[:AT]-(c:Claim)-[:PAID_WITH]->(k:Card)
RETURN 'institution:' + id AS unit, count(c) AS claims, count(DISTINCT k) AS cards
UNION ALL
UNWIND $pharmacyIds AS id
MATCH (:Pharmacy {pharmacyId: id})<-[:AT]-(c:Claim)-[:PAID_WITH]->(k:Card)
RETURN 'pharmacy:' + id AS unit, count(c) AS claims, count(DISTINCT k) AS cards
