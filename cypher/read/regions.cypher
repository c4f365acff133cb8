// name: read_regions
// mode: read
// params: none
// returns: region_code and props (map of the node's properties), ordered by code
MATCH (n:Region)
RETURN n.regionCode AS region_code, properties(n) AS props
ORDER BY region_code
