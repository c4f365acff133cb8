// name: projection_provider_people
// mode: read
// params: none
// returns: per provider and mode ('inpatient' admissions / 'ambulatory' visits and purchases): the distinct
//          people settled there (patients), those settled there on at least two distinct days (regulars),
//          and the first and last day of the central 95 % of its person-days (positions floor(0.025 n) and
//          ceil(0.975 n) - 1 of the n person-days by day); joined to projection_provider_activity
//          (graphkit.detectors.rings.provider_activity)
MATCH (p:Patient)-[:HAS_CLAIM]->(c:Claim)-[:AT]->(v)
WITH DISTINCT CASE WHEN v:Institution THEN 'institution' ELSE 'pharmacy' END AS provider_type,
     coalesce(v.institutionId, v.pharmacyId) AS provider_id,
     CASE WHEN c.claimType = 'inpatient' THEN 'inpatient' ELSE 'ambulatory' END AS mode,
     p, date(c.startTime) AS day
WITH provider_type, provider_id, mode, p, collect(day) AS pdays
UNWIND pdays AS day
WITH provider_type, provider_id, mode, p, size(pdays) AS k, day
ORDER BY provider_type, provider_id, mode, day
WITH provider_type, provider_id, mode, collect(day) AS days, count(DISTINCT p) AS patients,
     count(DISTINCT CASE WHEN k >= 2 THEN p END) AS regulars
RETURN provider_type, provider_id, mode, patients, regulars,
       days[toInteger(floor(0.025 * size(days)))] AS span_first,
       days[toInteger(ceil(0.975 * size(days))) - 1] AS span_last
ORDER BY provider_type, provider_id, mode
