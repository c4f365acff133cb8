// name: projection_latest_claim_time
// mode: read
// params: none
// returns: latest: the latest claim start time (null without claims), the reference day for ages in identity_links
MATCH (c:Claim)
RETURN max(c.startTime) AS latest
