// name: read_counts
// mode: read
// params: none
// returns: label, n — node counts per label the loader writes, and label 'contacts' with the number of contact relationships
// One count per label (answered from Neo4j's count store, no scan of the graph).
MATCH (n:Institution) RETURN 'Institution' AS label, count(n) AS n
UNION ALL MATCH (n:Pharmacy) RETURN 'Pharmacy' AS label, count(n) AS n
UNION ALL MATCH (n:Doctor) RETURN 'Doctor' AS label, count(n) AS n
UNION ALL MATCH (n:Patient) RETURN 'Patient' AS label, count(n) AS n
UNION ALL MATCH (n:Card) RETURN 'Card' AS label, count(n) AS n
UNION ALL MATCH (n:Referral) RETURN 'Referral' AS label, count(n) AS n
UNION ALL MATCH (n:Claim) RETURN 'Claim' AS label, count(n) AS n
UNION ALL MATCH (n:ClaimItem) RETURN 'ClaimItem' AS label, count(n) AS n
UNION ALL MATCH (n:Budget) RETURN 'Budget' AS label, count(n) AS n
UNION ALL MATCH (n:Region) RETURN 'Region' AS label, count(n) AS n
UNION ALL MATCH (:Patient)-[r:HAS_PHONE|HAS_ADDRESS|HAS_BANK_ACCOUNT|HAS_DEVICE|FAMILY_OF]->() RETURN 'contacts' AS label, count(r) AS n
