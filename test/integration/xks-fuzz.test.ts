/**
 * The fuzz test on the software keystore (the other providers: xks-fuzz-*.test.ts, same
 * driver in test/support/xks-fuzz.ts). A real proxy on loopback, raw HTTP paths, aws4
 * signatures: mutated bodies and key ids from every family (inherited object members,
 * dots, long ids, percent-encoded bytes, unicode) must all get a spec answer.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { closeFuzzAgent, fuzzSuite } from '../support/xks-fuzz.ts';

let fx: SoftwareFixture;
let proxy: RunningProxy;

beforeAll(async () => {
  fx = await createSoftwareFixture();
  const config = parseConfig(
    softwareConfig(fx.keystorePath, fx.kekHex, { server: { host: '127.0.0.1', port: 0, requestTimeoutMs: 2000 }, logging: { level: 'silent' } }),
    'fuzz.yaml',
  );
  proxy = await startProxy({ config, file: 'fuzz.yaml', configDir: fx.dir }, { logger: pino({ level: 'silent' }) });
});
afterAll(async () => {
  closeFuzzAgent();
  await proxy?.close();
  await fx?.cleanup();
});

describe('fuzz: software keystore', () => {
  fuzzSuite('software', () => ({ port: Number(new URL(proxy.url).port), knownKeyIds: ['foo', 'encrypt_only_key', 'decrypt_only_key', 'impotent_key'] }), {
    fixedSeeds: [1, 2, 3],
    requestsPerSeed: 300,
    timeoutMs: 30_000,
  });
});
