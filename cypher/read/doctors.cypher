// name: read_doctors
// mode: read
// params: none
// returns: doctor_id, props, institution_id (where registered), ordered by doctor id
MATCH (n:Doctor)
OPTIONAL MATCH (n)-[:WORKS_AT]->(i:Institution)
RETURN n.doctorId AS doctor_id, properties(n) AS props, i.institutionId AS institution_id
ORDER BY doctor_id
