/**
 * The doctor against a real PyKMIP server: keys with their real KMIP usage masks, then the
 * same server stopped (a key manager that is down).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckGroup } from '../../src/diagnostics/check-result.ts';
import { runDoctor } from '../../src/diagnostics/run-doctor.ts';
import { createKmipKey } from '../../src/providers/kmip/kmip-key-admin.ts';
import { openKmipCluster } from '../../src/providers/kmip/kmip-provider.ts';
import type { PykmipServer } from '../../src/providers/kmip/pykmip-process.ts';
import { createPykmipEnv, type PykmipEnv } from '../support/pykmip.ts';
import { DEMO_CREDENTIAL, DEMO_PREFIX } from '../support/xks-client.ts';
import { callContextWithin } from '../../src/xks/call-context.ts';

let env: PykmipEnv;
let server: PykmipServer;
let configPath: string;
const KEYS_ONLY: CheckGroup[] = ['tls', 'credentials', 'latency', 'end-to-end', 'clock'];

beforeAll(async () => {
  env = await createPykmipEnv();
  server = await env.startServer();
  const admin = await openKmipCluster(env.providerConfig([server]), env.deps());
  const limit = callContextWithin(10_000);
  await createKmipKey(admin.servers[0]!, limit, 'foo', ['ENCRYPT', 'DECRYPT']);
  await createKmipKey(admin.servers[0]!, limit, 'enc-only', ['ENCRYPT']);
  await createKmipKey(admin.servers[0]!, limit, 'xks-proxy-health-canary', ['ENCRYPT', 'DECRYPT']);
  admin.close();
  configPath = join(env.dir, 'doctor.yaml');
  writeFileSync(configPath, stringify({ keyStores: [{ prefix: DEMO_PREFIX, credentials: [DEMO_CREDENTIAL], provider: env.providerConfig([server]) }] }));
}, 60_000);
afterAll(async () => {
  await env?.cleanup();
});

describe('doctor on a KMIP key store', () => {
  it('passes the canary and a key with both usages, and fails a named encrypt-only key, saying what it breaks', async () => {
    const report = await runDoctor({ configPath, skip: KEYS_ONLY, keys: ['foo', 'enc-only'], env: {} });
    const line = (subject: string) => report.checks.find((c) => c.subject.includes(subject))!;
    expect(report.checks.find((c) => c.id === 'keys.canary')?.level).toBe('ok');
    expect(line('key foo').level).toBe('ok');
    // Named with --key, so meant for KMS: CreateKey would refuse it.
    expect(line('key enc-only')).toMatchObject({ level: 'fail' });
    expect(line('key enc-only').message).toContain('Decrypt and ReEncrypt from this key will fail');
  });

  it('fails the canary and the keys once the KMIP server is stopped', async () => {
    server.kill();
    await server.exited$();
    const report = await runDoctor({ configPath, skip: KEYS_ONLY, keys: ['foo'], env: {} });
    const canary = report.checks.find((c) => c.id === 'keys.canary');
    expect(canary).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_NOT_REACHABLE' });
    expect(canary?.message).toContain('UNAVAILABLE');
    expect(report.checks.find((c) => c.id === 'keys.key')?.level).toBe('fail');
    expect(report.ok).toBe(false);
  });
});
