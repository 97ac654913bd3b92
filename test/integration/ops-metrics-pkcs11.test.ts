import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load-config.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from '../support/softhsm.ts';
import { parseWithPrometheusClient, promtoolCheck } from '../unit/ops/support/prometheus-parsers.ts';
import { DEMO_CREDENTIAL, DEMO_PREFIX, encryptCall } from './ops-fixture.ts';

const TOKEN = 'xks-ops-metrics';
let hsm: SoftHsmFixture;
let proxy: RunningProxy;

beforeAll(async () => {
  hsm = await createSoftHsmFixture([TOKEN]);
  hsm.generateKey(TOKEN, 'xks-health-canary', { encrypt: true, decrypt: true });
  hsm.generateKey(TOKEN, 'foo', { encrypt: true, decrypt: true });
  const raw = {
    server: { host: '127.0.0.1', port: 0, requestTimeoutMs: 2000 },
    metrics: { port: 0 },
    keyStores: [
      {
        prefix: DEMO_PREFIX,
        credentials: [{ accessKeyId: DEMO_CREDENTIAL.accessKeyId, secretAccessKey: DEMO_CREDENTIAL.secretAccessKey }],
        provider: { type: 'pkcs11', module: hsm.modulePath, pin: `file:${hsm.tokens[0]!.pinFile}`, tokens: [{ label: TOKEN }], sessionsPerToken: 4 },
      },
    ],
  };
  const file = `${hsm.dir}/xks-proxy.yaml`;
  proxy = await startProxy({ config: parseConfig(raw, file), file, configDir: hsm.dir }, { logger: pino({ level: 'silent' }) });
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  await hsm?.cleanup();
});

describe('provider metrics on a real SoftHSM2 token', () => {
  it('report the PKCS#11 session pool of each token', async () => {
    const answers = await Promise.all(Array.from({ length: 12 }, () => encryptCall(proxy.url)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const text = await (await fetch(proxy.metricsUrl!)).text();
    expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
    const samples = parseWithPrometheusClient(text).flatMap((f) => f.samples);
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('xks_proxy_hsm_session_pool_size', { prefix: DEMO_PREFIX, token: TOKEN })).toBe(4);
    expect(value('xks_proxy_hsm_sessions', { prefix: DEMO_PREFIX, token: TOKEN, state: 'busy' })).toBe(0);
    expect(value('xks_proxy_hsm_sessions', { prefix: DEMO_PREFIX, token: TOKEN, state: 'idle' })).toBeGreaterThanOrEqual(1);
    expect(value('xks_proxy_hsm_sessions_discarded', { prefix: DEMO_PREFIX, token: TOKEN })).toBe(0);
    expect(value('xks_external_key_manager_states', { prefix: DEMO_PREFIX, state: 'ACTIVE' })).toBe(1);
    expect(value('xks_external_key_manager_up', { prefix: DEMO_PREFIX, ekm_id: TOKEN })).toBe(1);
  });
});
