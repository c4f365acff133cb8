// name: load_referral_by_clear
// mode: write
// params: keys: list of str (keys of Referral nodes updated with an empty referring doctor)
// returns: nothing
// a later bundle emptied the reference: the (:Referral)-[:REFERRED_BY]->() relationship goes, as the embedded store's value does
UNWIND $keys AS k
MATCH (a:Referral {referralId: k})-[old:REFERRED_BY]->()
DELETE old
