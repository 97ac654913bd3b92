/**
 * The KMIP provider against a real PyKMIP server: AES-GCM round trips with AAD done by
 * the server, usages from the Cryptographic Usage Mask, states, tampering, and health.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallContext, KeyProvider } from '../../src/xks/key-provider-port.ts';
import type { KmipCluster, KmipServer } from '../../src/providers/kmip/kmip-cluster.ts';
import { createKmipKey, destroyKmipKey, locateKeys, revokeKmipKey } from '../../src/providers/kmip/kmip-key-admin.ts';
import { activateRequest, createAesKeyRequest, parseUniqueIdentifier } from '../../src/providers/kmip/kmip-operations.ts';
import { createKmipProvider, openKmipCluster } from '../../src/providers/kmip/kmip-provider.ts';
import type { PykmipServer } from '../../src/providers/kmip/pykmip-process.ts';
import { createPykmipEnv, type PykmipEnv } from '../support/pykmip.ts';
import { callContextWithin } from '../../src/xks/call-context.ts';

function ctx(ms = 2_000): CallContext {
  return { deadline: Date.now() + ms, signal: AbortSignal.timeout(ms) };
}
const limit = () => callContextWithin(5_000);
const v0 = (keyId: string) => ({ keyId, version: 0 });

async function errorOf(p: Promise<unknown>): Promise<{ errorName?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { errorName?: string; message: string };
  }
  throw new Error('expected the call to fail');
}

let env: PykmipEnv;
let server: PykmipServer;
let admin: KmipCluster;
let kmip: KmipServer;
let provider: KeyProvider;

beforeAll(async () => {
  env = await createPykmipEnv();
  server = await env.startServer();
  const config = env.providerConfig([server]);
  admin = await openKmipCluster(config, env.deps());
  kmip = admin.servers[0]!;
  await createKmipKey(kmip, limit(), 'foo', ['ENCRYPT', 'DECRYPT']);
  await createKmipKey(kmip, limit(), 'encrypt_only_key', ['ENCRYPT']);
  await createKmipKey(kmip, limit(), 'decrypt_only_key', ['DECRYPT']);
  await createKmipKey(kmip, limit(), 'impotent_key', []);
  await createKmipKey(kmip, limit(), 'xks-proxy-health-canary', ['ENCRYPT', 'DECRYPT']);
  await createKmipKey(kmip, limit(), 'pre_active_key', ['ENCRYPT', 'DECRYPT'], { activate: false });
  await revokeKmipKey(kmip, limit(), await createKmipKey(kmip, limit(), 'deactivated_key', ['ENCRYPT', 'DECRYPT']));
  await revokeKmipKey(kmip, limit(), await createKmipKey(kmip, limit(), 'compromised_key', ['ENCRYPT', 'DECRYPT']), true);
  const aes128 = parseUniqueIdentifier(await kmip.call(createAesKeyRequest('aes128_key', 0x0c, 128), limit()));
  await kmip.call(activateRequest(aes128), limit());
  for (let i = 0; i < 2; i++) await kmip.call(createAesKeyRequest('twin_key', 0x0c), limit());
  provider = createKmipProvider(config, env.deps());
  await provider.init();
}, 60_000);

afterAll(async () => {
  await provider?.close();
  admin?.close();
  await env?.cleanup();
});

describe('KMIP provider on PyKMIP: AES-GCM on the server', () => {
  it('round-trips a plaintext with AAD through the server with a 12-byte IV and 16-byte tag', async () => {
    const plaintext = Buffer.from('the quick brown fox');
    const aad = Buffer.from('project=nile,department=marketing');
    const out = await provider.encrypt(v0('foo'), plaintext, aad, ctx());
    expect(out.iv).toHaveLength(12);
    expect(out.tag).toHaveLength(16);
    expect(out.ciphertext).toHaveLength(plaintext.length);
    expect(Buffer.from(out.ciphertext).equals(plaintext)).toBe(false);
    expect(Buffer.from(await provider.decrypt(v0('foo'), out, aad, ctx())).equals(plaintext)).toBe(true);
  });

  it('handles the spec minimums: 4,300 bytes of plaintext with 8,192 bytes of AAD', async () => {
    const plaintext = Buffer.alloc(4300, 0x61);
    const aad = Buffer.alloc(8192, 0x62);
    const out = await provider.encrypt(v0('foo'), plaintext, aad, ctx());
    expect(Buffer.from(await provider.decrypt(v0('foo'), out, aad, ctx())).equals(plaintext)).toBe(true);
  });

  it('round-trips an empty plaintext and an empty AAD', async () => {
    const out = await provider.encrypt(v0('foo'), new Uint8Array(0), new Uint8Array(0), ctx());
    expect(out.ciphertext).toHaveLength(0);
    expect(await provider.decrypt(v0('foo'), out, new Uint8Array(0), ctx())).toHaveLength(0);
  });

  it('uses a fresh IV for every encryption of the same plaintext', async () => {
    const a = await provider.encrypt(v0('foo'), Buffer.from('same'), Buffer.from('aad'), ctx());
    const b = await provider.encrypt(v0('foo'), Buffer.from('same'), Buffer.from('aad'), ctx());
    expect(Buffer.from(a.iv).equals(b.iv)).toBe(false);
    expect(Buffer.from(a.ciphertext).equals(b.ciphertext)).toBe(false);
  });

  it('rejects a changed ciphertext, tag, IV or AAD with InvalidCiphertextException', async () => {
    const aad = Buffer.from('bound to this aad');
    const out = await provider.encrypt(v0('foo'), Buffer.from('integrity matters'), aad, ctx());
    const flip = (b: Uint8Array) => {
      const c = Buffer.from(b);
      c[0] = (c[0] ?? 0) ^ 1;
      return c;
    };
    for (const input of [
      { ...out, ciphertext: flip(out.ciphertext) },
      { ...out, tag: flip(out.tag) },
      { ...out, iv: flip(out.iv) },
    ]) {
      expect((await errorOf(provider.decrypt(v0('foo'), input, aad, ctx()))).errorName).toBe('InvalidCiphertextException');
    }
    // The AAD is really bound (at KMIP 1.2 PyKMIP would silently ignore it).
    expect((await errorOf(provider.decrypt(v0('foo'), out, Buffer.from('other aad'), ctx()))).errorName).toBe('InvalidCiphertextException');
    expect((await errorOf(provider.decrypt(v0('foo'), out, new Uint8Array(0), ctx()))).errorName).toBe('InvalidCiphertextException');
  });

  it('rejects a ciphertext of one key presented to another key', async () => {
    const out = await provider.encrypt(v0('foo'), Buffer.from('for foo only'), Buffer.from('a'), ctx());
    const err = await errorOf(provider.decrypt(v0('decrypt_only_key'), out, Buffer.from('a'), ctx()));
    expect(err.errorName).toBe('InvalidCiphertextException');
  });

  it('serves 24 concurrent round trips over the connection pool', async () => {
    const results = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const plaintext = Buffer.from(`message ${i}`);
        const out = await provider.encrypt(v0('foo'), plaintext, Buffer.from(`aad ${i}`), ctx(5_000));
        return Buffer.from(await provider.decrypt(v0('foo'), out, Buffer.from(`aad ${i}`), ctx(5_000))).toString();
      }),
    );
    expect(results).toEqual(Array.from({ length: 24 }, (_, i) => `message ${i}`));
  });
});

describe('KMIP provider on PyKMIP: usages from the Cryptographic Usage Mask', () => {
  it('reports the usages of each demo key', async () => {
    expect(await provider.describe('foo', ctx())).toEqual({ keyId: 'foo', usages: ['ENCRYPT', 'DECRYPT'], enabled: true, currentVersion: 0 });
    expect((await provider.describe('encrypt_only_key', ctx())).usages).toEqual(['ENCRYPT']);
    expect((await provider.describe('decrypt_only_key', ctx())).usages).toEqual(['DECRYPT']);
    expect((await provider.describe('impotent_key', ctx())).usages).toEqual([]);
  });

  it('turns the server refusing a usage into InvalidKeyUsageException', async () => {
    expect((await errorOf(provider.encrypt(v0('decrypt_only_key'), Buffer.from('x'), Buffer.from('a'), ctx()))).errorName).toBe('InvalidKeyUsageException');
    expect((await errorOf(provider.encrypt(v0('impotent_key'), Buffer.from('x'), Buffer.from('a'), ctx()))).errorName).toBe('InvalidKeyUsageException');
    const out = await provider.encrypt(v0('encrypt_only_key'), Buffer.from('x'), Buffer.from('a'), ctx());
    expect((await errorOf(provider.decrypt(v0('encrypt_only_key'), out, Buffer.from('a'), ctx()))).errorName).toBe('InvalidKeyUsageException');
  });
});

describe('KMIP provider on PyKMIP: key states and lookup', () => {
  it('reports Pre-Active, Deactivated and Compromised keys as disabled', async () => {
    for (const keyId of ['pre_active_key', 'deactivated_key', 'compromised_key']) {
      expect(await provider.describe(keyId, ctx())).toEqual({ keyId, usages: ['ENCRYPT', 'DECRYPT'], enabled: false, currentVersion: 0 });
    }
  });

  it('turns the server refusing a key that is not Active into InvalidStateException', async () => {
    for (const keyId of ['pre_active_key', 'deactivated_key', 'compromised_key']) {
      const err = await errorOf(provider.encrypt(v0(keyId), Buffer.from('x'), Buffer.from('a'), ctx()));
      expect(err.errorName, keyId).toBe('InvalidStateException');
    }
  });

  it('reports a missing key and a destroyed key as KeyNotFoundException, a version the key does not have as the port says', async () => {
    const uid = await createKmipKey(kmip, limit(), 'doomed_key', ['ENCRYPT', 'DECRYPT']);
    await revokeKmipKey(kmip, limit(), uid);
    await destroyKmipKey(kmip, limit(), uid);
    expect((await errorOf(provider.describe('no_such_key', ctx()))).errorName).toBe('KeyNotFoundException');
    expect((await errorOf(provider.describe('doomed_key', ctx()))).errorName).toBe('KeyNotFoundException');
    // keyVersionNotFound: the key exists, only the version does not (KMIP keys have version 0 only).
    expect((await errorOf(provider.encrypt({ keyId: 'foo', version: 3 }, Buffer.from('x'), Buffer.from('a'), ctx()))).errorName).toBe('InternalException');
    const input = { iv: Buffer.alloc(12), ciphertext: Buffer.from('x'), tag: Buffer.alloc(16) };
    expect((await errorOf(provider.decrypt({ keyId: 'foo', version: 3 }, input, Buffer.from('a'), ctx()))).errorName).toBe('InvalidCiphertextException');
  });

  it('refuses a key that is not AES-256 with a message that says why', async () => {
    const err = await errorOf(provider.describe('aes128_key', ctx()));
    expect(err.errorName).toBe('InvalidStateException');
    expect(err.message).toMatch(/not an AES-256 key.*length 128/);
  });

  it('refuses a name that two KMIP keys share', async () => {
    const err = await errorOf(provider.describe('twin_key', ctx()));
    expect(err.errorName).toBe('InvalidStateException');
    expect(err.message).toContain('2 KMIP keys are named "twin_key"');
  });

  it('finds a key again after it is destroyed and re-created under the same name', async () => {
    const first = await createKmipKey(kmip, limit(), 'phoenix_key', ['ENCRYPT', 'DECRYPT']);
    const old = await provider.encrypt(v0('phoenix_key'), Buffer.from('old'), Buffer.from('a'), ctx());
    await revokeKmipKey(kmip, limit(), first);
    await destroyKmipKey(kmip, limit(), first);
    const second = await createKmipKey(kmip, limit(), 'phoenix_key', ['ENCRYPT', 'DECRYPT']);
    expect(second).not.toBe(first);
    const fresh = await provider.encrypt(v0('phoenix_key'), Buffer.from('new'), Buffer.from('a'), ctx());
    expect(Buffer.from(await provider.decrypt(v0('phoenix_key'), fresh, Buffer.from('a'), ctx())).toString()).toBe('new');
    // The old ciphertext belonged to the destroyed key material.
    expect((await errorOf(provider.decrypt(v0('phoenix_key'), old, Buffer.from('a'), ctx()))).errorName).toBe('InvalidCiphertextException');
  });

  it('maps external key ids to KMIP names with the configured prefix', async () => {
    await createKmipKey(kmip, limit(), 'tenant-a/bar', ['ENCRYPT']);
    const prefixed = createKmipProvider(env.providerConfig([server], { keyNamePrefix: 'tenant-a/' }), env.deps());
    await prefixed.init();
    try {
      expect((await prefixed.describe('bar', ctx())).usages).toEqual(['ENCRYPT']);
      expect((await errorOf(prefixed.describe('foo', ctx()))).errorName).toBe('KeyNotFoundException');
    } finally {
      await prefixed.close();
    }
    expect(await locateKeys(kmip, limit(), 'bar')).toEqual([]);
  });
});

describe('KMIP provider on PyKMIP: health', () => {
  it('reports the server ACTIVE with its vendor identification after a canary round trip', async () => {
    expect(await provider.health(ctx())).toEqual([{ id: 'kmip-1', model: 'PyKMIP 0.10.0 Software Server', healthStatus: 'ACTIVE' }]);
  });

  it('reports DEGRADED with the reason when the health-check key is missing', async () => {
    const p = createKmipProvider(env.providerConfig([server], { healthCheckKeyName: 'missing-canary' }), env.deps());
    await p.init();
    try {
      const [entry] = await p.health(ctx());
      expect(entry).toMatchObject({ id: 'kmip-1', healthStatus: 'DEGRADED' });
      expect(entry?.detail).toContain('missing-canary');
    } finally {
      await p.close();
    }
  });

  it('reports DEGRADED when the health-check key cannot encrypt', async () => {
    const p = createKmipProvider(env.providerConfig([server], { healthCheckKeyName: 'pre_active_key' }), env.deps());
    await p.init();
    try {
      expect((await p.health(ctx()))[0]?.healthStatus).toBe('DEGRADED');
    } finally {
      await p.close();
    }
  });
});
