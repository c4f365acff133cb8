// name: read_checkpoint
// mode: read
// params: fingerprint: str (the bundle's)
// returns: step, batch (last committed), complete, plan (the batch layout the step/batch refer to) — for resuming an interrupted load
MATCH (l:GraphkitLoad {bundleFingerprint: $fingerprint})
RETURN l.step AS step, l.batch AS batch, l.complete AS complete, l.plan AS plan
