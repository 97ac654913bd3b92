/**
 * Preload for `bench/cost-breakdown.ts --alloc`: V8's sampling heap profiler over a window
 * the bench chooses. The first SIGUSR2 starts sampling, the second stops it and writes the
 * profile to $XKS_ALLOC_PROFILE. Unlike `node --heap-prof` (which keeps only the samples
 * still alive when it stops), objects later collected by a scavenge or a mark-compact are
 * kept, so the profile is what was allocated, not what survived.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const out = process.env.XKS_ALLOC_PROFILE;
const interval = Number(process.env.XKS_ALLOC_INTERVAL ?? 512);
if (out !== undefined) {
  const session = new Session();
  session.connect();
  let sampling = false;
  process.on('SIGUSR2', () => {
    if (!sampling) {
      sampling = true;
      session.post('HeapProfiler.startSampling', {
        samplingInterval: interval,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      return;
    }
    session.post('HeapProfiler.stopSampling', (err, result) => {
      writeFileSync(out, err ? JSON.stringify({ error: String(err) }) : JSON.stringify(result.profile));
    });
  });
}
