import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gcm } from '@noble/ciphers/aes.js';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CallContext, KeyProvider } from '../../../../src/xks/key-provider-port.ts';
import { SoftwareKeystoreFile } from '../../../../src/providers/software/software-keystore-file.ts';
import { addKey, changeKeystore, initKeystore, rotateKey, setKeyEnabled } from '../../../../src/providers/software/software-keystore.ts';
import { createSoftwareProvider, type SoftwareProviderOptions } from '../../../../src/providers/software/software-provider.ts';
import { makeTempDir, rawKekSecret } from '../../../support/software-keystore-fixture.ts';

const ctx = (): CallContext => ({ deadline: Date.now() + 1000, signal: new AbortController().signal });
const aad = Buffer.from('spec-built aad bytes');

let dir: string;
let cleanup: () => Promise<void>;
let path: string;
let logLines: string[];
let provider: KeyProvider;
const secret = rawKekSecret();

function makeProvider(options: SoftwareProviderOptions = {}, env: NodeJS.ProcessEnv = { TEST_KEK: secret.kek }): KeyProvider {
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  // Relative path and env: reference: resolved against configDir and deps.env.
  return createSoftwareProvider({ type: 'software', path: 'data/ks.json', kek: 'env:TEST_KEK' }, { logger: pino(sink), configDir: dir, env }, options);
}

/** Raw key bytes of one key version, read independently of the provider. */
async function keyBytes(keyId: string, version: number): Promise<Buffer> {
  const file = new SoftwareKeystoreFile(path, secret);
  const { contents } = await file.read();
  const bytes = Buffer.from(contents.keys.get(keyId)!.versions[version - 1]!.material.expose());
  file.close();
  return bytes;
}

/** Calls `get` until `done` holds (at most 2 s), returning the last value. */
async function until<T>(get: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const started = Date.now();
  let v = await get();
  while (!done(v) && Date.now() - started < 2000) {
    await new Promise((r) => setTimeout(r, 20));
    v = await get();
  }
  return v;
}

async function errorName(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: Error & { errorName?: string }) => e.errorName ?? e.message,
  );
}

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  path = join(dir, 'data', 'ks.json');
  logLines = [];
  await initKeystore(path, secret);
  await changeKeystore(path, secret, (f, c) => {
    addKey(f, c, 'foo', { usages: ['ENCRYPT', 'DECRYPT'], enabled: true });
    addKey(f, c, 'impotent_key', { usages: [], enabled: false });
  });
  provider = makeProvider();
  await provider.init();
});
afterEach(async () => {
  await provider.close();
  await cleanup();
});

describe('software provider keys and crypto', () => {
  it('describes a key with its usages, state and current version', async () => {
    expect(await provider.describe('foo', ctx())).toEqual({ keyId: 'foo', usages: ['ENCRYPT', 'DECRYPT'], enabled: true, currentVersion: 1 });
    expect(await provider.describe('impotent_key', ctx())).toEqual({ keyId: 'impotent_key', usages: [], enabled: false, currentVersion: 1 });
  });

  it('answers KeyNotFoundException for an unknown key in describe, encrypt and decrypt', async () => {
    expect(await errorName(provider.describe('nope', ctx()))).toBe('KeyNotFoundException');
    expect(await errorName(provider.encrypt({ keyId: 'nope', version: 1 }, Buffer.from('x'), aad, ctx()))).toBe('KeyNotFoundException');
    const input = { iv: randomBytes(12), ciphertext: Buffer.from('x'), tag: randomBytes(16) };
    expect(await errorName(provider.decrypt({ keyId: 'nope', version: 1 }, input, aad, ctx()))).toBe('KeyNotFoundException');
  });

  it('encrypts with a fresh 12-byte IV and a 16-byte tag, and decrypts back', async () => {
    const plaintext = Buffer.from('recognizable plaintext 1234');
    const a = await provider.encrypt({ keyId: 'foo', version: 1 }, plaintext, aad, ctx());
    const b = await provider.encrypt({ keyId: 'foo', version: 1 }, plaintext, aad, ctx());
    expect(a.iv).toHaveLength(12);
    expect(a.tag).toHaveLength(16);
    expect(a.ciphertext).toHaveLength(plaintext.length);
    expect(Buffer.from(a.iv).equals(Buffer.from(b.iv))).toBe(false);
    expect(Buffer.from(await provider.decrypt({ keyId: 'foo', version: 1 }, a, aad, ctx())).toString()).toBe(plaintext.toString());
  });

  it('produces standard AES-256-GCM that an independent implementation (@noble/ciphers) decrypts', async () => {
    const plaintext = randomBytes(4300);
    const out = await provider.encrypt({ keyId: 'foo', version: 1 }, plaintext, aad, ctx());
    const key = await keyBytes('foo', 1);
    const decrypted = gcm(key, out.iv, aad).decrypt(Buffer.concat([out.ciphertext, out.tag]));
    expect(Buffer.from(decrypted).equals(plaintext)).toBe(true);
  });

  it('decrypts a ciphertext made with a 16-byte IV (the spec allows 12 or 16)', async () => {
    const key = await keyBytes('foo', 1);
    const iv = randomBytes(16);
    const sealed = gcm(key, iv, aad).encrypt(Buffer.from('sixteen byte iv'));
    const input = { iv, ciphertext: sealed.subarray(0, -16), tag: sealed.subarray(-16) };
    expect(Buffer.from(await provider.decrypt({ keyId: 'foo', version: 1 }, input, aad, ctx())).toString()).toBe('sixteen byte iv');
  });

  it.each([
    ['ciphertext', (o: { iv: Buffer; ciphertext: Buffer; tag: Buffer }) => (o.ciphertext[0]! ^= 1)],
    ['tag', (o: { iv: Buffer; ciphertext: Buffer; tag: Buffer }) => (o.tag[15]! ^= 1)],
    ['IV', (o: { iv: Buffer; ciphertext: Buffer; tag: Buffer }) => (o.iv[0]! ^= 1)],
  ])('answers InvalidCiphertextException when the %s was changed', async (_what, tamper) => {
    const out = await provider.encrypt({ keyId: 'foo', version: 1 }, Buffer.from('data'), aad, ctx());
    const copy = { iv: Buffer.from(out.iv), ciphertext: Buffer.from(out.ciphertext), tag: Buffer.from(out.tag) };
    tamper(copy);
    expect(await errorName(provider.decrypt({ keyId: 'foo', version: 1 }, copy, aad, ctx()))).toBe('InvalidCiphertextException');
  });

  it('answers InvalidCiphertextException for a different AAD, a short tag or a bad IV length', async () => {
    const out = await provider.encrypt({ keyId: 'foo', version: 1 }, Buffer.from('data'), aad, ctx());
    const ref = { keyId: 'foo', version: 1 };
    expect(await errorName(provider.decrypt(ref, out, Buffer.from('other aad'), ctx()))).toBe('InvalidCiphertextException');
    expect(await errorName(provider.decrypt(ref, { ...out, tag: out.tag.subarray(0, 12) }, aad, ctx()))).toBe('InvalidCiphertextException');
    expect(await errorName(provider.decrypt(ref, { ...out, iv: randomBytes(8) }, aad, ctx()))).toBe('InvalidCiphertextException');
  });

  it('leaves usage and enabled checks to the key-store layer (a disabled no-usage key still does crypto)', async () => {
    const out = await provider.encrypt({ keyId: 'impotent_key', version: 1 }, Buffer.from('x'), aad, ctx());
    expect(Buffer.from(await provider.decrypt({ keyId: 'impotent_key', version: 1 }, out, aad, ctx())).toString()).toBe('x');
  });

  it('answers a version the key does not have as the port says (keyVersionNotFound): InvalidCiphertextException on decrypt, InternalException on encrypt', async () => {
    const out = await provider.encrypt({ keyId: 'foo', version: 1 }, Buffer.from('x'), aad, ctx());
    expect(await errorName(provider.decrypt({ keyId: 'foo', version: 7 }, out, aad, ctx()))).toBe('InvalidCiphertextException');
    expect(await errorName(provider.decrypt({ keyId: 'foo', version: 0 }, out, aad, ctx()))).toBe('InvalidCiphertextException');
    expect(await errorName(provider.encrypt({ keyId: 'foo', version: 7 }, Buffer.from('x'), aad, ctx()))).toBe('InternalException');
  });
});

describe('software provider answers at once for a key in memory (describeNow, encryptNow, decryptNow)', () => {
  it('answers a key in memory at once, and leaves an unknown key, or a version not in memory, to the asynchronous calls (which check the store)', async () => {
    expect(provider.describeNow?.('foo', ctx())).toEqual(await provider.describe('foo', ctx()));
    const out = provider.encryptNow?.({ keyId: 'foo', version: 1 }, Buffer.from('at once'), aad, ctx());
    expect(out?.iv).toHaveLength(12);
    expect(Buffer.from(provider.decryptNow?.({ keyId: 'foo', version: 1 }, out!, aad, ctx()) ?? []).toString()).toBe('at once');
    expect(provider.describeNow?.('nope', ctx())).toBeUndefined();
    expect(provider.encryptNow?.({ keyId: 'nope', version: 1 }, Buffer.from('x'), aad, ctx())).toBeUndefined();
    expect(provider.decryptNow?.({ keyId: 'foo', version: 2 }, out!, aad, ctx())).toBeUndefined();
  });

  it('answers nothing at once after close', async () => {
    await provider.close();
    expect(provider.describeNow?.('foo', ctx())).toBeUndefined();
  });
});

describe('software provider sees CLI changes without restart', () => {
  it('after rotation, new encryptions use the new version and old ciphertexts still decrypt', async () => {
    const fast = makeProvider({ reloadCheckMs: 20 });
    await fast.init();
    const old = await fast.encrypt({ keyId: 'foo', version: 1 }, Buffer.from('old'), aad, ctx());
    await changeKeystore(path, secret, (f, c) => rotateKey(f, c, 'foo'));
    // Calls never wait for the file: the background check serves the calls after it.
    const info = await until(
      () => fast.describe('foo', ctx()),
      (i) => i.currentVersion === 2,
    );
    expect(info.currentVersion).toBe(2);
    const fresh = await fast.encrypt({ keyId: 'foo', version: info.currentVersion }, Buffer.from('new'), aad, ctx());
    expect(Buffer.from(await fast.decrypt({ keyId: 'foo', version: 1 }, old, aad, ctx())).toString()).toBe('old');
    expect(Buffer.from(await fast.decrypt({ keyId: 'foo', version: 2 }, fresh, aad, ctx())).toString()).toBe('new');
    // Version 2 really is another key: its ciphertext does not open under version 1.
    expect(await errorName(fast.decrypt({ keyId: 'foo', version: 1 }, fresh, aad, ctx()))).toBe('InvalidCiphertextException');
    await fast.close();
  });

  it('notices a disable within about a second with the default check interval', async () => {
    await changeKeystore(path, secret, (f, c) => setKeyEnabled(f, c, 'foo', false));
    const started = Date.now();
    while ((await provider.describe('foo', ctx())).enabled && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
    expect((await provider.describe('foo', ctx())).enabled).toBe(false);
    // The default check runs every second; the bound leaves room for a loaded CI machine
    // (2 s failed at 2,032 ms there) and still fails for a check interval of minutes.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('checks the store at once when a decrypt names a version just past its own (a rotation made elsewhere a moment ago)', async () => {
    // Two proxies on one store: `other` learns of the rotation first and encrypts with it.
    const slow = makeProvider({ reloadCheckMs: 3_600_000 });
    const other = makeProvider({ reloadCheckMs: 3_600_000 });
    await slow.init();
    await changeKeystore(path, secret, (f, c) => rotateKey(f, c, 'foo'));
    await other.init();
    const made = await other.encrypt({ keyId: 'foo', version: 2 }, Buffer.from('fresh'), aad, ctx());
    expect((await slow.describe('foo', { deadline: Date.now(), signal: new AbortController().signal })).currentVersion).toBe(1);
    expect(Buffer.from(await slow.decrypt({ keyId: 'foo', version: 2 }, made, aad, ctx())).toString()).toBe('fresh');
    await slow.close();
    await other.close();
  });

  it('checks the file at once when a key is not found, so a just-created key works immediately', async () => {
    await changeKeystore(path, secret, (f, c) => addKey(f, c, 'brand_new', { usages: ['ENCRYPT'], enabled: true }));
    expect((await provider.describe('brand_new', ctx())).usages).toEqual(['ENCRYPT']);
  });

  it('logs reloads, but never key material', async () => {
    await changeKeystore(path, secret, (f, c) => addKey(f, c, 'another', { usages: [], enabled: true }));
    await provider.describe('another', ctx());
    const log = logLines.join('');
    expect(log).toContain('reloaded');
    for (const k of [await keyBytes('foo', 1), await keyBytes('another', 1), Buffer.from(secret.kek, 'base64')]) {
      expect(log).not.toContain(k.toString('hex'));
      expect(log).not.toContain(k.toString('base64'));
    }
  });
});

describe('software provider health', () => {
  it('reports one ACTIVE entry for the keystore after a canary round trip', async () => {
    expect(await provider.health(ctx())).toEqual([{ id: 'ks.json', model: 'xks-proxy software keystore', healthStatus: 'ACTIVE' }]);
  });

  it('keeps serving the last good keys, DEGRADED, while the file is under another KEK, and recovers', async () => {
    const good = await readFile(path);
    const other = join(dir, 'other.json');
    await initKeystore(other, rawKekSecret());
    await rename(other, path);
    const [entry] = await provider.health(ctx());
    expect(entry).toMatchObject({ id: 'ks.json', healthStatus: 'DEGRADED' });
    expect(entry!.detail).toMatch(/^serving the keys loaded at \S+; /);
    expect(entry!.detail).toContain(`wrong kek for keystore file ${path}`);
    // The keys loaded before still work...
    const out = await provider.encrypt({ keyId: 'foo', version: 1 }, Buffer.from('still here'), aad, ctx());
    expect(Buffer.from(await provider.decrypt({ keyId: 'foo', version: 1 }, out, aad, ctx())).toString()).toBe('still here');
    // ...and a key we do not have is an outage while the file is unreadable, not "no such key".
    expect(await errorName(provider.describe('not_loaded', ctx()))).toBe('InternalException');
    expect(logLines.join('')).toContain('serving the last good keys');

    await writeFile(path, good, { mode: 0o600 });
    expect((await provider.health(ctx()))[0]!.healthStatus).toBe('ACTIVE');
    expect((await provider.describe('foo', ctx())).enabled).toBe(true);
    expect(await errorName(provider.describe('not_loaded', ctx()))).toBe('KeyNotFoundException');
  });

  it('turns DEGRADED (keys still served) when the file is corrupted or deleted', async () => {
    const bytes = await readFile(path);
    bytes[bytes.length - 5] = bytes[bytes.length - 5] === 0x41 ? 0x42 : 0x41;
    await writeFile(path, bytes);
    expect((await provider.health(ctx()))[0]).toMatchObject({ healthStatus: 'DEGRADED', detail: expect.stringMatching(/failed authentication/) });
    await rm(path);
    expect((await provider.health(ctx()))[0]).toMatchObject({ healthStatus: 'DEGRADED', detail: expect.stringMatching(/does not exist/) });
    expect((await provider.describe('foo', ctx())).enabled).toBe(true);
  });

  it('refuses a FIFO in place of the file without blocking, serves the last good keys, and picks the file up again', async () => {
    const saved = join(dir, 'saved.json');
    await rename(path, saved);
    execFileSync('mkfifo', ['-m', '600', path]);
    // A plain open() of a FIFO with no writer blocks for ever; this must answer.
    const [entry] = await provider.health(ctx());
    expect(entry).toMatchObject({ healthStatus: 'DEGRADED', detail: expect.stringContaining(`keystore file ${path} is not a regular file (a FIFO)`) });
    expect((await provider.describe('foo', ctx())).enabled).toBe(true);
    await rm(path);
    await rename(saved, path);
    expect((await provider.health(ctx()))[0]!.healthStatus).toBe('ACTIVE');
  });

  it('is UNAVAILABLE with no keys to serve when the file was never readable', async () => {
    await rm(path);
    execFileSync('mkfifo', ['-m', '600', path]);
    const p = makeProvider();
    await expect(p.init()).rejects.toThrow('is not a regular file');
    expect((await p.health(ctx()))[0]).toMatchObject({ healthStatus: 'UNAVAILABLE', detail: expect.stringContaining('not a regular file') });
    expect(await errorName(p.describe('foo', ctx()))).toBe('InternalException');
    await p.close();
  });
});

describe('software provider start-up', () => {
  it('fails init with an error naming the file when it is missing', async () => {
    await rm(path);
    const p = makeProvider();
    await expect(p.init()).rejects.toThrow(`keystore file ${path} does not exist`);
    expect((await p.health(ctx()))[0]!.healthStatus).toBe('UNAVAILABLE');
  });

  it('fails init naming the variable when the KEK reference cannot be resolved', async () => {
    const p = makeProvider({}, {});
    await expect(p.init()).rejects.toThrow('environment variable TEST_KEK is not set');
  });

  it('refuses calls after close', async () => {
    const p = makeProvider();
    await p.init();
    await p.close();
    expect(await errorName(p.describe('foo', ctx()))).toBe('InternalException');
  });
});
