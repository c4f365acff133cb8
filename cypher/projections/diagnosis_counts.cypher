// name: projection_diagnosis_counts
// mode: read
// params: none
// returns: claims other than inpatient stays per diagnosis code (the city's chance of a diagnosis group outside
//          hospital, for phantom_stay's stay_outside_service check), by code
MATCH (c:Claim)
WHERE c.diagnosisCode IS NOT NULL AND coalesce(c.claimType, '') <> 'inpatient'
RETURN c.diagnosisCode AS diagnosis_code, count(*) AS claims
ORDER BY diagnosis_code
