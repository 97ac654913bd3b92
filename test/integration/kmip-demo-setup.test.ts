/**
 * `startKmipDemo`: the first run makes certificates and the demo keys, a second run in the
 * same data directory reuses them, and the keys behave as the AWS XKS test client expects.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKmipDemo, type KmipDemo } from '../../src/providers/kmip/kmip-demo-setup.ts';
import { createKmipProvider } from '../../src/providers/kmip/kmip-provider.ts';

let dataDir: string;
const running: KmipDemo[] = [];

beforeAll(async () => {
  dataDir = join(await mkdtemp(join(tmpdir(), 'xks-kmip-demo-')), 'kmip');
});

afterAll(async () => {
  for (const demo of running) demo.server.kill();
  await Promise.all(running.map((d) => d.server.exited$()));
  await rm(join(dataDir, '..'), { recursive: true, force: true });
});

const ctx = () => ({ deadline: Date.now() + 2_000, signal: AbortSignal.timeout(2_000) });

describe('KMIP demo setup', () => {
  it('creates certificates and the demo keys on first run, and reuses them on the next', async () => {
    const first = await startKmipDemo(dataDir);
    running.push(first);
    expect(first.createdPki).toBe(true);
    expect(first.createdKeys).toEqual(['foo', 'encrypt_only_key', 'decrypt_only_key', 'impotent_key', 'xks-proxy-health-canary']);
    await first.stop();
    expect(first.server.running).toBe(false);

    const second = await startKmipDemo(dataDir);
    running.push(second);
    expect(second.createdPki).toBe(false);
    expect(second.createdKeys).toEqual([]);

    const provider = createKmipProvider(second.providerConfig, { logger: pino({ level: 'silent' }), configDir: dataDir, env: process.env });
    await provider.init();
    try {
      expect((await provider.describe('foo', ctx())).usages).toEqual(['ENCRYPT', 'DECRYPT']);
      expect((await provider.describe('encrypt_only_key', ctx())).usages).toEqual(['ENCRYPT']);
      expect((await provider.describe('decrypt_only_key', ctx())).usages).toEqual(['DECRYPT']);
      expect(await provider.describe('impotent_key', ctx())).toMatchObject({ usages: [], enabled: true });
      expect(await provider.health(ctx())).toEqual([{ id: 'pykmip-demo', model: 'PyKMIP 0.10.0 Software Server', healthStatus: 'ACTIVE' }]);
    } finally {
      await provider.close();
      await second.stop();
    }
  }, 60_000);
});
