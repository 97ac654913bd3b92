/** The fuzz test (test/support/xks-fuzz.ts) against the softhsm demo: SoftHSM2 (PKCS#11). */
import { afterAll, beforeAll, describe } from 'vitest';
import { DEMO_KEY_IDS, startDemoProxy, type DemoProxy } from '../support/demo-fuzz-target.ts';
import { closeFuzzAgent, fuzzSuite } from '../support/xks-fuzz.ts';

let demo: DemoProxy;

beforeAll(async () => {
  demo = await startDemoProxy('softhsm');
}, 60_000);
afterAll(async () => {
  closeFuzzAgent();
  await demo?.stop();
});

describe('fuzz: SoftHSM2 (PKCS#11)', () => {
  fuzzSuite('softhsm', () => ({ port: demo.port, knownKeyIds: DEMO_KEY_IDS }), { fixedSeeds: [1, 2, 3], requestsPerSeed: 300, timeoutMs: 60_000 });
});
