// name: read_patients
// mode: read
// params: none
// returns: the key and props (map of the node's properties), ordered by key
MATCH (n:Patient)
RETURN n.patientId AS patient_id, properties(n) AS props
ORDER BY patient_id
