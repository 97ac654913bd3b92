/**
 * The public AWS XKS proxy test client (`test-xks-proxy -a`), unchanged, against every demo
 * started the way a user starts it, one demo at a time, each on a free loopback port with
 * fresh state. The client is the reference AWS points XKS proxy vendors to; the project's
 * own conformance harness (conformance/) is the deeper check.
 *
 * The client lives beside the repository (../shared/vendor/aws-kms-xksproxy-test-client/,
 * or $XKS_TEST_CLIENT_DIR). In a user's own clone it is absent and these tests are skipped,
 * saying so in their name; with CI=true (.ci/run sets it) its absence is a failure.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTestClient, TEST_CLIENT_DIR, TEST_CLIENT_PRESENT, type TestClientReport } from '../support/aws-test-client.ts';
import { startNpmDemo } from '../support/demo-process.ts';

/**
 * Every demo, one line each: the npm script a user runs (it gets `-- --port 0 --data-dir
 * <tmp>` appended, plus `args`).
 */
const DEMOS: readonly { script: string; args?: readonly string[] }[] = [
  { script: 'start' }, // software keystore
  { script: 'demo:softhsm' }, // PKCS#11 on a SoftHSM2 token
  { script: 'demo:nss' }, // PKCS#11 on NSS softoken (a second implementation, by configuration only)
  { script: 'demo:kmip' }, // KMIP on a PyKMIP server
  { script: 'demo:fleet' }, // software keystore on PostgreSQL, three proxies behind HAProxy
];

/** Start (up to 90 s, KMIP's first run makes a PKI and keys) + client (~15-40 s) + stop. */
const PER_DEMO_TIMEOUT_MS = 300_000;

const inCi = process.env.CI === 'true';
const skipReason = TEST_CLIENT_PRESENT || inCi ? '' : ` (skipped: not found at ${TEST_CLIENT_DIR}; set XKS_TEST_CLIENT_DIR to run)`;
// The default reporter does not print skipped tests' names: say why once.
if (skipReason !== '') console.log(`AWS XKS test client${skipReason}`);

/** Starts the demo, runs the client against it, stops the demo (whole process group) and removes its state. */
async function clientAgainstDemo(script: string, args: readonly string[] = [], clientEnv: NodeJS.ProcessEnv = {}): Promise<TestClientReport> {
  if (!TEST_CLIENT_PRESENT) throw new Error(`CI=true but the AWS XKS test client is not at ${TEST_CLIENT_DIR} (set XKS_TEST_CLIENT_DIR)`);
  const dataDir = await mkdtemp(join(tmpdir(), `xks-awsclient-${script.replace(/\W/g, '-')}-`));
  try {
    const demo = await startNpmDemo(script, dataDir, args);
    try {
      return await runTestClient(demo.url, clientEnv);
    } finally {
      await demo.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe(`the AWS XKS test client against every demo${skipReason}`, () => {
  it.skipIf(skipReason !== '').each(DEMOS)(
    'test-xks-proxy -a passes against npm run $script',
    async ({ script, args }) => {
      const report = await clientAgainstDemo(script, args);
      // The client's own verdict in CI's output, one line per demo.
      console.log(`AWS XKS test client vs npm run ${script}: ${report.summary} (${report.seconds.toFixed(1)} s)`);
      expect(report.failures, report.output.slice(-6000)).toEqual([]);
      expect(report.allPassed, report.output.slice(-6000)).toBe(true);
    },
    PER_DEMO_TIMEOUT_MS,
  );

  it.skipIf(skipReason !== '')(
    'fails when the proxy answers wrongly (the client told encrypt_only_key is foo, which also decrypts)',
    async () => {
      // The proxy answers a decrypt with encrypt_only_key's id -- now foo -- with plaintext,
      // where the client expects a refusal: the verdict must be a failure.
      const report = await clientAgainstDemo('start', [], { ENCRYPT_ONLY_KEY_ID: 'foo' });
      console.log(`AWS XKS test client vs npm start, wrong key usage on purpose: ${report.summary}`);
      expect(report.allPassed).toBe(false);
      expect(report.failures.length).toBeGreaterThan(0);
      expect(report.summary).toMatch(/FAILED/);
    },
    PER_DEMO_TIMEOUT_MS,
  );
});
