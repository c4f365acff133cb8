// name: cases_get_pref
// mode: read
// params: user: str, key: str
// returns: value
MATCH (p:CasePref {user: $user, key: $key})
RETURN p.value AS value
