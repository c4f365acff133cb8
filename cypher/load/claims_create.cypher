// name: load_claims_create
// mode: write
// params: rows: list of {claimId, claimType, department, startTime: ISO str, endTime: ISO str, diagnosisCode, totalAmount, fundAmount, selfAmount, extra: map (other columns, optional), patientId, cardId, institutionId, pharmacyId, doctorId, referralId, terminalId, items: list of {itemKey, itemCode, itemName, category, quantity, unitPrice, amount, itemTime: ISO str, daysSupply, department, extra: map (optional)}}; absent or null values are not set
// returns: created (number of :Claim nodes created; the loader checks it equals the number of rows)
// Claims that are NOT in the graph yet (the loader knows which keys the graph held when the load
// started; a batch commits with its checkpoint, so a committed batch is never re-run): one pass
// CREATEs the :Claim, its relationships and its :ClaimItem nodes. Every relationship hangs off a
// node CREATEd in this statement, and :Claim(claimId) / :ClaimItem(itemKey) are unique, so a
// claim that exists already makes the statement (and its transaction) fail instead of
// duplicating anything. Claims already in the graph go through load/claims + the *_replace files.
// Optional references look up coalesce(id, '') (never a key: ids are non-empty) rather than null,
// which ArcadeDB answers with a label scan; portable to every Neo4j 5 (no CALL subquery).
// Date-times travel as ISO strings and become LocalDateTime here (the driver's own conversion of
// Python datetimes costs more client time than the server spends on the whole row).
UNWIND $rows AS r
CREATE (c:Claim {claimId: r.claimId, claimType: r.claimType, department: r.department,
                 startTime: localdatetime(r.startTime), endTime: localdatetime(r.endTime),
                 diagnosisCode: r.diagnosisCode, totalAmount: r.totalAmount, fundAmount: r.fundAmount,
                 selfAmount: r.selfAmount})
FOREACH (x IN CASE WHEN r.extra IS NULL THEN [] ELSE [r.extra] END | SET c += x)
WITH c, r
MATCH (p:Patient {patientId: r.patientId})
MATCH (k:Card {cardId: r.cardId})
CREATE (p)-[:HAS_CLAIM]->(c), (c)-[:PAID_WITH]->(k)
WITH c, r
OPTIONAL MATCH (i:Institution {institutionId: coalesce(r.institutionId, '')})
OPTIONAL MATCH (y:Pharmacy {pharmacyId: coalesce(r.pharmacyId, '')})
OPTIONAL MATCH (d:Doctor {doctorId: coalesce(r.doctorId, '')})
OPTIONAL MATCH (f:Referral {referralId: coalesce(r.referralId, '')})
FOREACH (x IN CASE WHEN i IS NULL THEN [] ELSE [i] END | CREATE (c)-[:AT]->(x))
FOREACH (x IN CASE WHEN y IS NULL THEN [] ELSE [y] END | CREATE (c)-[:AT]->(x))
FOREACH (x IN CASE WHEN d IS NULL THEN [] ELSE [d] END | CREATE (c)-[:TREATED_BY]->(x))
FOREACH (x IN CASE WHEN f IS NULL THEN [] ELSE [f] END | CREATE (c)-[:FOLLOWS]->(x))
FOREACH (t IN CASE WHEN r.terminalId IS NULL THEN [] ELSE [r.terminalId] END |
  MERGE (x:Terminal {terminalId: t}) CREATE (c)-[:READ_ON]->(x))
FOREACH (it IN r.items |
  CREATE (c)-[:HAS_ITEM]->(ci:ClaimItem {itemKey: it.itemKey, itemCode: it.itemCode, itemName: it.itemName,
                                         category: it.category, quantity: it.quantity, unitPrice: it.unitPrice,
                                         amount: it.amount, itemTime: localdatetime(it.itemTime),
                                         daysSupply: it.daysSupply, department: it.department})
  FOREACH (x IN CASE WHEN it.extra IS NULL THEN [] ELSE [it.extra] END | SET ci += x))
RETURN count(c) AS created
