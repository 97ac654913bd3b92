/**
 * Runs the public AWS XKS proxy test client (aws-samples/aws-kms-xksproxy-test-client, a
 * bash + curl script set) against an endpoint. It is not part of this repository: an
 * unchanged copy sits beside it at ../shared/vendor/aws-kms-xksproxy-test-client/
 * (override with XKS_TEST_CLIENT_DIR). It needs bash, curl with --aws-sigv4, jq, xxd and
 * uuidgen (scripts/system-packages.txt).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_CREDENTIAL, DEMO_PREFIX } from './xks-client.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Where the client is looked for: $XKS_TEST_CLIENT_DIR, else ../shared/vendor/... beside the repository. */
export const TEST_CLIENT_DIR = resolve(REPO, process.env.XKS_TEST_CLIENT_DIR ?? '../shared/vendor/aws-kms-xksproxy-test-client');
export const TEST_CLIENT_PRESENT = existsSync(resolve(TEST_CLIENT_DIR, 'test-xks-proxy'));

/** What one client run reported. */
export interface TestClientReport {
  /** The client's summary line, e.g. "All 49 tests PASSED." (or its "A total of ... FAILED" line). */
  summary: string;
  /** True only when the summary says all tests passed and no single test FAILED. */
  allPassed: boolean;
  /** The "=> Test ... FAILED ..." lines. */
  failures: string[];
  output: string;
  seconds: number;
}

/**
 * Runs `./test-xks-proxy -a` (every test, including the encrypt-only, decrypt-only and
 * no-usage keys) against baseUrl (http://host:port). The client exits 0 even when tests
 * fail, so the verdict is read from its output. Killed (with its curl children) after timeoutMs.
 */
export function runTestClient(baseUrl: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 180_000): Promise<TestClientReport> {
  const url = new URL(baseUrl);
  const started = Date.now();
  const child = spawn('bash', ['./test-xks-proxy', '-a'], {
    cwd: TEST_CLIENT_DIR,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      // Everything the client reads, set explicitly so a developer's environment cannot steer it.
      XKS_PROXY_HOST: url.host,
      SCHEME: url.protocol === 'https:' ? 'https://' : '',
      URI_PREFIX: DEMO_PREFIX,
      REGION: 'us-east-1',
      SIGV4_ACCESS_KEY_ID: DEMO_CREDENTIAL.accessKeyId,
      SIGV4_SECRET_ACCESS_KEY: DEMO_CREDENTIAL.secretAccessKey,
      KEY_ID: 'foo',
      ENCRYPT_ONLY_KEY_ID: 'encrypt_only_key',
      DECRYPT_ONLY_KEY_ID: 'decrypt_only_key',
      IMPOTENT_KEY_ID: 'impotent_key',
      SECURE: '',
      MTLS: '',
      VERBOSE: '',
      DEBUG: '0',
      ANSI_ESCAPE: '0',
      ...env,
    },
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
      reject(new Error(`the AWS XKS test client did not finish in ${timeoutMs} ms:\n${output.slice(-4000)}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', () => {
      clearTimeout(timer);
      const lines = output.split('\n').map((l) => l.trim());
      const summary = [...lines].reverse().find((l) => /tests (PASSED|FAILED)\.$/.test(l)) ?? '(no summary line)';
      const failures = lines.filter((l) => l.startsWith('=> Test') && l.includes('FAILED'));
      resolvePromise({
        summary,
        allPassed: /^\S*\s*All \d+ tests PASSED\.$/.test(summary) && failures.length === 0,
        failures,
        output,
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}
