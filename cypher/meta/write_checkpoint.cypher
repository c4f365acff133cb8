// name: write_checkpoint
// mode: write
// params: fingerprint: str, step: int, batch: int, complete: bool, plan: str (batch layout: loader version and batch size), at: str
// returns: nothing — written in the same transaction as the batch it records
MERGE (l:GraphkitLoad {bundleFingerprint: $fingerprint})
SET l.step = $step, l.batch = $batch, l.complete = $complete, l.plan = $plan, l.updatedAt = $at
