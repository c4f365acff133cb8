// name: read_counts
// mode: read
// params: none
// returns: label, n — node counts per label
MATCH (n)
RETURN labels(n)[0] AS label, count(*) AS n
