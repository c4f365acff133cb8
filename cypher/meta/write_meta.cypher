// name: write_meta
// mode: write
// params: fingerprint: str, manifest: str (JSON)
// returns: nothing
MERGE (m:GraphkitMeta {key: 'store'})
SET m.fingerprint = $fingerprint, m.manifest = $manifest
