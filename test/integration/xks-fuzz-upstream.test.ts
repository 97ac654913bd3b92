/**
 * The fuzz test (test/support/xks-fuzz.ts) against the upstream provider: a front proxy
 * forwarding to a back proxy (software keystore), both real listeners on loopback. Every
 * odd key id and body passes through the front's validation, mapping and forwarding.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { DEMO_CREDENTIAL } from '../support/xks-client.ts';
import { closeFuzzAgent, fuzzSuite } from '../support/xks-fuzz.ts';
import { frontKeyStoreEntry } from '../support/upstream-front.ts';

let fx: SoftwareFixture;
let back: RunningProxy;
let front: RunningProxy;
const silent = pino({ level: 'silent' });
const quiet = { server: { host: '127.0.0.1', port: 0, requestTimeoutMs: 2000 }, logging: { level: 'silent' } };

beforeAll(async () => {
  fx = await createSoftwareFixture();
  const backConfig = parseConfig(softwareConfig(fx.keystorePath, fx.kekHex, quiet), 'back.yaml');
  back = await startProxy({ config: backConfig, file: 'back.yaml', configDir: fx.dir }, { logger: silent });
  const frontConfig = parseConfig(
    {
      ...quiet,
      // A mapped id next to forwarded ones: the map is consulted for every request.
      keyStores: [frontKeyStoreEntry(back.url, { provider: { keyIdMap: { alias: 'foo' } } })],
    },
    'front.yaml',
  );
  front = await startProxy(
    { config: frontConfig, file: 'front.yaml', configDir: fx.dir },
    { logger: silent, env: { BACK_SECRET: DEMO_CREDENTIAL.secretAccessKey } },
  );
});
afterAll(async () => {
  closeFuzzAgent();
  await front?.close();
  await back?.close();
  await fx?.cleanup();
});

describe('fuzz: upstream (our proxy in front of our proxy on a software keystore)', () => {
  fuzzSuite('upstream', () => ({ port: Number(new URL(front.url).port), knownKeyIds: ['foo', 'alias', 'encrypt_only_key', 'decrypt_only_key'] }), {
    fixedSeeds: [1, 2, 3],
    requestsPerSeed: 300,
    timeoutMs: 30_000,
  });
});
