// name: load_doctor_works_at_clear
// mode: write
// params: keys: list of str (keys of Doctor nodes updated with an empty institution)
// returns: nothing
// a later bundle emptied the reference: the (:Doctor)-[:WORKS_AT]->() relationship goes, as the embedded store's value does
UNWIND $keys AS k
MATCH (a:Doctor {doctorId: k})-[old:WORKS_AT]->()
DELETE old
