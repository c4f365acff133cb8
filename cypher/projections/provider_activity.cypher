// name: projection_provider_activity
// mode: read
// params: none
// returns: per provider and mode ('inpatient' admissions / 'ambulatory' visits and purchases): first and last
//          settlement day and the number of distinct days with settlements (open days)
MATCH (c:Claim)-[:AT]->(v)
WITH CASE WHEN v:Institution THEN 'institution' ELSE 'pharmacy' END AS provider_type,
     coalesce(v.institutionId, v.pharmacyId) AS provider_id,
     CASE WHEN c.claimType = 'inpatient' THEN 'inpatient' ELSE 'ambulatory' END AS mode,
     date(c.startTime) AS day
RETURN provider_type, provider_id, mode, min(day) AS first_day, max(day) AS last_day, count(DISTINCT day) AS open_days
ORDER BY provider_type, provider_id, mode
