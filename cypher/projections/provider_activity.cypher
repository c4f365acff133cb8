// name: projection_provider_activity
// mode: read
// params: none
// returns: per provider and mode ('inpatient' admissions / 'ambulatory' visits and purchases): first and last
//          settlement day, the number of distinct days with settlements (open days) and the number of
//          weekdays with settlements on at least two distinct dates (open weekdays)
MATCH (c:Claim)-[:AT]->(v)
WITH CASE WHEN v:Institution THEN 'institution' ELSE 'pharmacy' END AS provider_type,
     coalesce(v.institutionId, v.pharmacyId) AS provider_id,
     CASE WHEN c.claimType = 'inpatient' THEN 'inpatient' ELSE 'ambulatory' END AS mode,
     date(c.startTime) AS day
WITH provider_type, provider_id, mode, day.dayOfWeek AS weekday,
     min(day) AS first_day, max(day) AS last_day, count(DISTINCT day) AS days
RETURN provider_type, provider_id, mode, min(first_day) AS first_day, max(last_day) AS last_day,
       sum(days) AS open_days, sum(CASE WHEN days >= 2 THEN 1 ELSE 0 END) AS open_weekdays
ORDER BY provider_type, provider_id, mode
