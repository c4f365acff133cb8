// name: read_contacts
// mode: read
// params: none
// returns: patient_id, rel (relationship type), value (identifier value or family member's patient id)
MATCH (p:Patient)-[r:HAS_PHONE|HAS_ADDRESS|HAS_BANK_ACCOUNT|HAS_DEVICE|FAMILY_OF]->(x)
RETURN p.patientId AS patient_id, type(r) AS rel, coalesce(x.value, x.patientId) AS value
ORDER BY patient_id, rel, value
