/**
 * The conformance harness against a proxy whose key store is an upstream XKS proxy: a
 * front proxy (configured from a config file shape, as an operator would) forwarding to
 * a back proxy on the software keystore.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { runConformance } from '../../conformance/run.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { DEMO_CREDENTIAL } from '../support/xks-client.ts';
import { frontKeyStoreEntry } from '../support/upstream-front.ts';

let fx: SoftwareFixture;
let back: RunningProxy;
let front: RunningProxy;
const silent = pino({ level: 'silent' });

beforeAll(async () => {
  fx = await createSoftwareFixture();
  const backConfig = parseConfig(softwareConfig(fx.keystorePath, fx.kekHex, { server: { host: '127.0.0.1', port: 0 } }), 'back.yaml');
  back = await startProxy({ config: backConfig, file: 'back.yaml', configDir: fx.dir }, { logger: silent });
  const frontConfig = parseConfig(
    {
      server: { host: '127.0.0.1', port: 0 },
      keyStores: [frontKeyStoreEntry(back.url)],
    },
    'front.yaml',
  );
  front = await startProxy(
    { config: frontConfig, file: 'front.yaml', configDir: fx.dir },
    { logger: silent, env: { BACK_SECRET: DEMO_CREDENTIAL.secretAccessKey } },
  );
});
afterAll(async () => {
  await front?.close();
  await back?.close();
  await fx?.cleanup();
});

describe('conformance harness against an upstream key store', () => {
  it('passes every MUST check through the front proxy', async () => {
    const report = await runConformance({ endpoint: front.url });
    expect(report.results.filter((r) => r.status === 'fail').map((r) => `${r.id}: ${r.detail ?? ''}`)).toEqual([]);
    expect(report.summary.conformant).toBe(true);
  }, 120_000);
});
