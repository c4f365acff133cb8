// name: projection_doctor_referrals
// mode: read
// params: none
// returns: referral counts (all, out-of-area) per referrer (the doctor, or the referring institution when the
//          referral names no doctor), referring institution and destination, with the doctor's department (null
//          when unknown); the caller adds the institution's level and region (peer attributes)
MATCH (r:Referral)-[:REFERRED_FROM]->(f:Institution)
MATCH (r)-[:REFERRED_TO]->(t:Institution)
OPTIONAL MATCH (r)-[:REFERRED_BY]->(d:Doctor)
WITH CASE WHEN d IS NULL THEN 'institution' ELSE 'doctor' END AS referrer_type,
     coalesce(d.doctorId, f.institutionId) AS referrer, f.institutionId AS from_institution_id,
     d.department AS department, t.institutionId AS to_institution_id,
     CASE WHEN r.outOfArea = true THEN 1 ELSE 0 END AS ooa
RETURN referrer_type, referrer, from_institution_id, department, to_institution_id,
       count(*) AS referrals, sum(ooa) AS out_of_area
ORDER BY referrer_type, referrer, from_institution_id, to_institution_id
