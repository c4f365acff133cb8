// name: projection_provider_claim_counts
// mode: read
// params: none
// returns: claims per provider (institution or pharmacy): provider_type, provider_id, claims, by provider
//          (graphkit.detectors.duplicates.provider_claim_counts)
MATCH (c:Claim)-[:AT]->(v)
WITH CASE WHEN v:Institution THEN 'institution' ELSE 'pharmacy' END AS provider_type,
     coalesce(v.institutionId, v.pharmacyId) AS provider_id, count(c) AS claims
RETURN provider_type, provider_id, claims
ORDER BY provider_type, provider_id
