import { describe, expect, it } from 'vitest';
import { createOpsDirForTest, DEMO_CREDENTIAL, DEMO_PREFIX, demoConfig, SECOND_CREDENTIAL, startProxyForTest } from './ops-fixture.ts';

// Issue 21 item 12: the `config reloaded` line says what changed, not only `kept: [...]`.

const credA = { accessKeyId: DEMO_CREDENTIAL.accessKeyId, secretAccessKey: DEMO_CREDENTIAL.secretAccessKey, createdAt: '2026-01-01' };
const credB = { accessKeyId: SECOND_CREDENTIAL.accessKeyId, secretAccessKey: SECOND_CREDENTIAL.secretAccessKey, createdAt: '2026-01-02' };
const P = JSON.stringify(DEMO_PREFIX);

describe('config reloaded line', () => {
  it('names credentials added and removed by access key id, policy mode, limits and rebuilt key stores', async () => {
    const d = await createOpsDirForTest();
    const first = demoConfig(d, {}, { credentials: [credA], policy: { dryRun: true, defaultEffect: 'allow', rules: [] } });
    await d.writeConfig(first);
    const { proxy, logs } = await startProxyForTest(d, first);

    // Rotation step: B added; policy from dry run to enforcing; a per-prefix and a proxy-wide limit.
    await d.writeConfig(
      demoConfig(
        d,
        { rateLimit: { requestsPerSecond: 500, burst: 100 } },
        { credentials: [credA, credB], policy: { dryRun: false, defaultEffect: 'allow', rules: [] }, rateLimit: { requestsPerSecond: 50 } },
      ),
    );
    expect((await proxy.reload('test')).ok).toBe(true);
    const line = logs.filter((l) => l['msg'] === 'config reloaded').at(-1)!;
    expect(line['changed']).toEqual(
      expect.arrayContaining([
        `credentials of ${P}: added ${SECOND_CREDENTIAL.accessKeyId}`,
        `policy of ${P}: dry run, default allow, rules [] -> enforcing, default allow, rules []`,
        `rateLimit of ${P}: none -> 50/s burst 50`,
        'rateLimit (proxy-wide): none -> 500/s burst 100',
      ]),
    );
    expect(line).toMatchObject({
      kept: [DEMO_PREFIX],
      credentials: [{ prefix: DEMO_PREFIX, added: [SECOND_CREDENTIAL.accessKeyId], removed: [], secretReplaced: [] }],
    });
    // Never a secret, only ids.
    expect(JSON.stringify(logs)).not.toContain(SECOND_CREDENTIAL.secretAccessKey);

    // A changed secret under the same id, A retired, and the health settings (rebuild).
    const credBNewSecret = { ...credB, secretAccessKey: 'YetAnotherSecretThatIsLongEnoughForTheSpec0123456789abcd' };
    await d.writeConfig(demoConfig(d, { health: { cacheSeconds: 9 } }, { credentials: [credBNewSecret] }));
    expect((await proxy.reload('test')).ok).toBe(true);
    const second = logs.filter((l) => l['msg'] === 'config reloaded').at(-1)!;
    expect(second['changed']).toEqual(
      expect.arrayContaining([
        `key store ${P} rebuilt (health settings changed)`,
        `credentials of ${P}: removed ${DEMO_CREDENTIAL.accessKeyId}; new secret for ${SECOND_CREDENTIAL.accessKeyId}`,
        `policy of ${P}: enforcing, default allow, rules [] -> none`,
        `rateLimit of ${P}: 50/s burst 50 -> none`,
      ]),
    );
    expect(JSON.stringify(logs)).not.toContain(credBNewSecret.secretAccessKey);

    // The same file again: the line says so.
    expect((await proxy.reload('test')).ok).toBe(true);
    expect(logs.filter((l) => l['msg'] === 'config reloaded').at(-1)!['changed']).toEqual(['nothing changed']);
  }, 60_000);
});
