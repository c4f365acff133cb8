// name: load_referrals
// mode: write
// params: rows: list of {key: str, props: map}
// returns: nothing
// MERGE one :Referral per row by its key, then set its properties
UNWIND $rows AS r
MERGE (n:Referral {referralId: r.key})
SET n += r.props
