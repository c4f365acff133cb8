// name: write_checkpoint
// mode: write
// params: fingerprint: str, step: int, batch: int, complete: bool, at: str
// returns: nothing — written in the same transaction as the batch it records
MERGE (l:GraphkitLoad {bundleFingerprint: $fingerprint})
SET l.step = $step, l.batch = $batch, l.complete = $complete, l.updatedAt = $at
