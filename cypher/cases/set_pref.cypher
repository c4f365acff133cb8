// name: cases_set_pref
// mode: write
// params: user: str, key: str, value: str|null
// returns: nothing
MERGE (p:CasePref {user: $user, key: $key})
SET p.value = $value
