// name: read_keys
// mode: read
// params: none
// returns: label and key of every entity node a bundle may refer to (for cross-bundle validation)
MATCH (n)
WHERE n:Institution OR n:Pharmacy OR n:Doctor OR n:Patient OR n:Card OR n:Referral OR n:Claim
RETURN labels(n)[0] AS label,
       coalesce(n.institutionId, n.pharmacyId, n.doctorId, n.patientId, n.cardId, n.referralId, n.claimId) AS key
