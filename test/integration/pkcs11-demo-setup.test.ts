import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePkcs11DemoToken } from '../../src/providers/pkcs11/pkcs11-demo-setup.ts';
import { createPkcs11Provider } from '../../src/providers/pkcs11/pkcs11-provider.ts';
import { budget } from '../support/pkcs11-provider-harness.ts';

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'xks-pkcs11-demo-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('PKCS#11 demo token set-up', () => {
  it('creates a private SoftHSM2 token with the demo keys once, then reuses it', async () => {
    const first = await ensurePkcs11DemoToken(dataDir);
    expect(first.createdToken).toBe(true);
    expect(first.createdKeys).toEqual(['foo', 'encrypt_only_key', 'decrypt_only_key', 'impotent_key', 'xks-health-canary']);
    expect(process.env.SOFTHSM2_CONF).toBe(first.softhsmConf);
    expect((await stat(first.pinFile)).mode & 0o077).toBe(0);

    const second = await ensurePkcs11DemoToken(dataDir);
    expect(second).toMatchObject({ createdToken: false, createdKeys: [] });

    const provider = createPkcs11Provider(second.providerConfig, { logger: pino({ level: 'silent' }), configDir: dataDir, env: process.env });
    await provider.init();
    try {
      expect((await provider.describe('foo', budget())).usages).toEqual(['ENCRYPT', 'DECRYPT']);
      expect((await provider.describe('encrypt_only_key', budget())).usages).toEqual(['ENCRYPT']);
      expect((await provider.describe('decrypt_only_key', budget())).usages).toEqual(['DECRYPT']);
      expect((await provider.describe('impotent_key', budget())).usages).toEqual([]);
      expect(await provider.health(budget())).toEqual([{ id: 'xks-demo', model: expect.stringContaining('SoftHSM'), healthStatus: 'ACTIVE' }]);
    } finally {
      await provider.close();
    }
  });
});
