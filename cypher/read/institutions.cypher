// name: read_institutions
// mode: read
// params: none
// returns: the key and props (map of the node's properties), ordered by key
MATCH (n:Institution)
RETURN n.institutionId AS institution_id, properties(n) AS props
ORDER BY institution_id
