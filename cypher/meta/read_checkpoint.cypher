// name: read_checkpoint
// mode: read
// params: fingerprint: str (the bundle's)
// returns: step, batch (last committed), complete — for resuming an interrupted load
MATCH (l:GraphkitLoad {bundleFingerprint: $fingerprint})
RETURN l.step AS step, l.batch AS batch, l.complete AS complete
