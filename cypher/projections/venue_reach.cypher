// name: projection_venue_reach
// mode: read
// params: institutions: list of institution ids, pharmacies: list of pharmacy ids
// returns: per provider and patient region: patients, the distinct people settled there (columns of
//          graphkit.detectors.identity.venue_reach), by provider and region
CALL {
  UNWIND $institutions AS id
  MATCH (v:Institution {institutionId: id})<-[:AT]-(:Claim)<-[:HAS_CLAIM]-(p:Patient)
  RETURN 'institution' AS provider_type, id AS provider_id, p
  UNION ALL
  UNWIND $pharmacies AS id
  MATCH (v:Pharmacy {pharmacyId: id})<-[:AT]-(:Claim)<-[:HAS_CLAIM]-(p:Patient)
  RETURN 'pharmacy' AS provider_type, id AS provider_id, p
}
WITH provider_type, provider_id, coalesce(p.region, '') AS region, count(DISTINCT p) AS patients
RETURN provider_type, provider_id, region, patients
ORDER BY provider_type, provider_id, region
