// name: projection_family_edges
// mode: read
// params: none
// returns: registered family links (a, b); family groups are their connected components
MATCH (a:Patient)-[:FAMILY_OF]->(b:Patient)
RETURN a.patientId AS a, b.patientId AS b
ORDER BY a, b
