// name: read_pharmacies
// mode: read
// params: none
// returns: the key and props (map of the node's properties), ordered by key
MATCH (n:Pharmacy)
RETURN n.pharmacyId AS pharmacy_id, properties(n) AS props
ORDER BY pharmacy_id
