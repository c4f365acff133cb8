// name: read_budgets
// mode: read
// params: none
// returns: props of every yearly budget, ordered by provider type, provider id and year
MATCH (n:Budget)
RETURN properties(n) AS props
ORDER BY n.providerType, n.providerId, n.year
