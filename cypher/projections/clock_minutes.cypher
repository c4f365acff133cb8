// name: projection_clock_minutes
// mode: read
// params: institutionIds: list of str, pharmacyIds: list of str
// returns: provider_type, provider_id, minute (minute of the day of a claim's start time, 0..1439), n (claims)
// How a few providers' settlements spread over the clock (batch / remote settlement shows as a spike).
UNWIND $institutionIds AS id
MATCH (:Institution {institutionId: id})<-[:AT]-(c:Claim)
RETURN 'institution' AS provider_type, id AS provider_id, c.startTime.hour * 60 + c.startTime.minute AS minute, count(*) AS n
UNION ALL
UNWIND $pharmacyIds AS id
MATCH (:Pharmacy {pharmacyId: id})<-[:AT]-(c:Claim)
RETURN 'pharmacy' AS provider_type, id AS provider_id, c.startTime.hour * 60 + c.startTime.minute AS minute, count(*) AS n
