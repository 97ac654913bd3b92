import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli-process.ts';
import { requestMetadata } from '../support/xks-client.ts';
import {
  createOpsDirForTest,
  DEMO_PREFIX,
  demoConfig,
  encryptCall,
  healthBody,
  startProxyForTest,
  xksCall,
  xksPath,
  type ProxyWithLogs,
} from './ops-fixture.ts';

const APP_ROLE = 'arn:aws:iam::111122223333:role/app/payments';
const VPCE = 'vpce-0abc1234567890def';

/** Only the app role, only through our VPC endpoint, and never encrypt under the legacy key. */
const POLICY = {
  rules: [
    { name: 'app-role', effect: 'allow', awsPrincipalArn: 'arn:aws:iam::111122223333:role/app/*' },
    { name: 'vpce-only', effect: 'deny', unless: { awsSourceVpce: 'vpce-0abc*' } },
    { name: 'legacy-decrypt-only', effect: 'deny', keyId: 'decrypt_only_key', operation: 'encrypt' },
  ],
};

/** Starts an in-process proxy whose demo key store has `policy`, with the config also on disk. */
async function start(policy: Record<string, unknown>): Promise<ProxyWithLogs> {
  const d = await createOpsDirForTest();
  const raw = demoConfig(d, {}, { policy });
  await d.writeConfig(raw);
  return startProxyForTest(d, raw);
}

const asApp = { awsPrincipalArn: APP_ROLE, awsSourceVpce: VPCE };

describe('secondary authorization policy', () => {
  it('allows what a rule allows and denies the rest with 403 AccessDeniedException, logging the rule', async () => {
    const { proxy: p, logs } = await start(POLICY);
    const allowed = await encryptCall(p.url, DEMO_PREFIX, {}, 'foo', asApp);
    expect(allowed.status).toBe(200);

    const cases = [
      {
        md: { ...asApp, awsPrincipalArn: 'arn:aws:iam::111122223333:user/mallory' },
        keyId: 'foo',
        reason: 'policy: denied by defaultEffect (no rule matched)',
      },
      { md: { awsPrincipalArn: APP_ROLE }, keyId: 'foo', reason: 'policy: denied by rule "vpce-only"' },
      { md: { ...asApp, awsSourceVpce: 'vpce-0fff' }, keyId: 'foo', reason: 'policy: denied by rule "vpce-only"' },
      { md: asApp, keyId: 'decrypt_only_key', reason: 'policy: denied by rule "legacy-decrypt-only"' },
    ];
    for (const c of cases) {
      const denied = await encryptCall(p.url, DEMO_PREFIX, {}, c.keyId, { ...c.md, kmsRequestId: `deny-${c.keyId}-${c.reason}` });
      expect(denied.status).toBe(403);
      expect(denied.json).toEqual({ errorName: 'AccessDeniedException', errorMessage: "The key store's access policy does not allow this request." });
      const line = logs.find((l) => l.msg === 'xks request' && l.kmsRequestId === `deny-${c.keyId}-${c.reason}`);
      expect(line).toMatchObject({ status: 403, errorName: 'AccessDeniedException', reason: c.reason, keyId: c.keyId });
    }
  });

  it('never applies to GetHealthStatus', async () => {
    const { proxy: p } = await start({ rules: [] }); // default deny: every key operation refused
    expect((await encryptCall(p.url, DEMO_PREFIX, {}, 'foo', asApp)).status).toBe(403);
    const health = await xksCall(p.url, xksPath(DEMO_PREFIX, 'health'), healthBody());
    expect(health.status).toBe(200);
    expect(health.json).toHaveProperty('ekmFleetDetails');
  });

  it('in dry-run mode lets denied requests through and logs each would-be denial with its rule', async () => {
    const { proxy: p, logs } = await start({ ...POLICY, dryRun: true });
    const answer = await encryptCall(p.url, DEMO_PREFIX, {}, 'foo', { awsPrincipalArn: APP_ROLE, kmsRequestId: 'dry-1' });
    expect(answer.status).toBe(200);
    const warn = logs.find((l) => l.msg === 'policy would deny (dry run)');
    expect(warn).toMatchObject({ rule: 'vpce-only', kmsRequestId: 'dry-1', keyId: 'foo', prefix: DEMO_PREFIX, level: 40 });
  });

  it('policy test evaluates sample requests offline with the same rules and exit codes', async () => {
    const d = await createOpsDirForTest();
    await d.writeConfig(demoConfig(d, {}, { policy: POLICY }));
    const sample = (file: string, body: unknown) => writeFile(join(d.dir, file), JSON.stringify(body));
    await sample('allowed.json', { keyId: 'foo', requestMetadata: requestMetadata('Encrypt', asApp) });
    await sample('batch.json', [
      { keyId: 'foo', requestMetadata: requestMetadata('Decrypt', asApp) },
      { keyId: 'decrypt_only_key', requestMetadata: requestMetadata('GenerateDataKey', asApp) },
    ]);
    await sample('bad.json', { requestMetadata: { kmsOperation: 'Encrypt' } });

    const ok = await runCli(['policy', 'test', '-c', d.configFile, '--prefix', DEMO_PREFIX, '--request', join(d.dir, 'allowed.json')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('allow  key foo, encrypt, Encrypt');
    expect(ok.stdout).toContain('allowed by rule "app-role"');

    const batch = await runCli(['policy', 'test', '-c', d.configFile, '--prefix', DEMO_PREFIX, '--request', join(d.dir, 'batch.json'), '--json']);
    expect(batch.code).toBe(2);
    expect(JSON.parse(batch.stdout)).toMatchObject({
      decisions: [
        { keyId: 'foo', operation: 'decrypt', effect: 'allow', rule: 'app-role' },
        { keyId: 'decrypt_only_key', operation: 'encrypt', effect: 'deny', rule: 'legacy-decrypt-only' },
      ],
    });

    const bad = await runCli(['policy', 'test', '-c', d.configFile, '--prefix', DEMO_PREFIX, '--request', join(d.dir, 'bad.json'), '--key-id', 'foo']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('kmsRequestId');
  }, 60_000);

  it('policy test reports a health-check sample as allowed, as the proxy never applies the policy to health', async () => {
    const d = await createOpsDirForTest();
    await d.writeConfig(demoConfig(d, {}, { policy: POLICY }));
    await writeFile(join(d.dir, 'health.json'), healthBody());
    const run = await runCli(['policy', 'test', '-c', d.configFile, '--prefix', DEMO_PREFIX, '--request', join(d.dir, 'health.json'), '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ decisions: [{ operation: 'health', kmsOperation: 'KmsHealthCheck', effect: 'allow' }] });
  }, 60_000);
});
