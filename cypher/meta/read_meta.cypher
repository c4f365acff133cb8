// name: read_meta
// mode: read
// params: none
// returns: fingerprint, manifest (JSON text) of the store; no row when nothing was loaded
MATCH (m:GraphkitMeta {key: 'store'})
RETURN m.fingerprint AS fingerprint, m.manifest AS manifest
