// name: admin_wipe
// mode: write
// params: none
// returns: nothing — deletes every node and relationship of the database (tests and benchmarks on scratch databases only)
MATCH (n)
DETACH DELETE n
