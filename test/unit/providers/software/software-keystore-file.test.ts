import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeystoreFileError } from '../../../../src/providers/software/software-keystore-errors.ts';
import { SoftwareKeystoreFile } from '../../../../src/providers/software/software-keystore-file.ts';
import { addKey, changeKeystore, initKeystore, readKeySummaries } from '../../../../src/providers/software/software-keystore.ts';
import { makeTempDir, rawKekSecret, TEST_SCRYPT } from '../../../support/software-keystore-fixture.ts';

let dir: string;
let cleanup: () => Promise<void>;
let path: string;
const passphrase = { passphrase: 'correct horse battery staple' };

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  path = join(dir, 'keystore.json');
  await initKeystore(path, passphrase, TEST_SCRYPT);
  await changeKeystore(path, passphrase, (f, c) => addKey(f, c, 'foo', { usages: ['ENCRYPT', 'DECRYPT'], enabled: true }));
});
afterEach(() => cleanup());

/** Expects `action` to fail with a KeystoreFileError of `kind` that names the file. */
async function expectFileError(action: Promise<unknown>, kind: KeystoreFileError['kind'], pattern: RegExp): Promise<KeystoreFileError> {
  const error = await action.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeystoreFileError);
  const fe = error as KeystoreFileError;
  expect(fe.kind).toBe(kind);
  expect(fe.message).toContain(path);
  expect(fe.message).toMatch(pattern);
  return fe;
}

/** Both a read and a locked update fail the same way, and the file's bytes stay as they were. */
async function expectUnusableAndUnchanged(secret: typeof passphrase | { kek: string }, kind: KeystoreFileError['kind'], pattern: RegExp) {
  const before = await readFile(path).catch(() => undefined);
  await expectFileError(readKeySummaries(path, secret), kind, pattern);
  await expectFileError(
    changeKeystore(path, secret, (f, c) => addKey(f, c, 'bar', { usages: [], enabled: true })),
    kind,
    pattern,
  );
  const after = await readFile(path).catch(() => undefined);
  expect(after).toEqual(before);
}

describe('software keystore file', () => {
  it('creates the file with mode 0600 and reopens it with the same passphrase', async () => {
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const keys = await readKeySummaries(path, passphrase);
    expect(keys.map((k) => k.keyId)).toEqual(['foo']);
  });

  it('records the KDF, its salt and the scrypt cost in a readable header, and no key in clear', async () => {
    const text = await readFile(path, 'utf8');
    const header = JSON.parse(text.split('\n')[0]!);
    expect(header).toMatchObject({ format: 'xks-proxy-software-keystore', formatVersion: 1, cipher: 'aes-256-gcm' });
    expect(header.kek).toMatchObject({ type: 'scrypt', N: TEST_SCRYPT.N, r: 8, p: 1 });
    expect(Buffer.from(header.kek.salt, 'base64')).toHaveLength(16);
    expect(text).not.toContain('foo');
  });

  it('uses strong scrypt parameters by default (N=2^16, r=8)', async () => {
    const other = join(dir, 'default-cost.json');
    const started = performance.now();
    await initKeystore(other, passphrase);
    const header = JSON.parse((await readFile(other, 'utf8')).split('\n')[0]!);
    expect(header.kek).toMatchObject({ type: 'scrypt', N: 65536, r: 8, p: 1 });
    // One derivation (about 0.2 s here); generous bound for a loaded CI machine.
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('rejects a wrong passphrase with an error naming the file, leaving it unchanged', async () => {
    await expectUnusableAndUnchanged({ passphrase: 'wrong' }, 'wrong-secret', /wrong passphrase/);
  });

  it('rejects a KEK for a passphrase keystore', async () => {
    await expectUnusableAndUnchanged(rawKekSecret(), 'wrong-secret', /protected by a passphrase, but a KEK was given/);
  });

  it('rejects a wrong raw KEK', async () => {
    const kekPath = join(dir, 'kek.json');
    const right = rawKekSecret();
    await initKeystore(kekPath, right);
    await expect(readKeySummaries(kekPath, rawKekSecret())).rejects.toThrow(`wrong kek for keystore file ${kekPath}`);
    await expect(readKeySummaries(kekPath, right)).resolves.toEqual([]);
  });

  it('accepts a raw KEK as hex as well as base64', async () => {
    const kekPath = join(dir, 'kek.json');
    const kek = rawKekSecret();
    await initKeystore(kekPath, kek);
    await expect(readKeySummaries(kekPath, { kek: Buffer.from(kek.kek, 'base64').toString('hex') })).resolves.toEqual([]);
  });

  it('refuses a KEK that is not 32 bytes, without echoing it', async () => {
    const kekPath = join(dir, 'kek.json');
    const e = await initKeystore(kekPath, { kek: 'c2hvcnQta2Vr' }).catch((x: Error) => x);
    expect(e).toBeInstanceOf(KeystoreFileError);
    expect((e as Error).message).toMatch(/32 bytes/);
    expect((e as Error).message).not.toContain('c2hvcnQta2Vr');
  });

  it('detects one flipped byte in the encrypted data', async () => {
    const bytes = await readFile(path);
    const headerEnd = bytes.indexOf(0x0a);
    // Swap one base64 character in the middle of the data line for another valid one.
    const i = headerEnd + 1 + Math.floor((bytes.length - headerEnd - 2) / 2);
    bytes[i] = bytes[i] === 0x41 ? 0x42 : 0x41;
    await writeFile(path, bytes);
    await expectUnusableAndUnchanged(passphrase, 'corrupt', /failed authentication/);
  });

  it('detects a changed header field that is not the KDF input (the IV)', async () => {
    const [header, data] = (await readFile(path, 'utf8')).split('\n');
    const h = JSON.parse(header!);
    h.iv = Buffer.alloc(12, 7).toString('base64');
    await writeFile(path, `${JSON.stringify(h)}\n${data}\n`);
    await expectUnusableAndUnchanged(passphrase, 'corrupt', /failed authentication/);
  });

  it('detects a header rewritten byte for byte with another field order', async () => {
    const [header, data] = (await readFile(path, 'utf8')).split('\n');
    const h = JSON.parse(header!);
    const reordered = { iv: h.iv, ...h };
    await writeFile(path, `${JSON.stringify(reordered)}\n${data}\n`);
    await expectUnusableAndUnchanged(passphrase, 'corrupt', /failed authentication/);
  });

  it('refuses a header that asks for an absurd scrypt cost instead of hanging', async () => {
    const [header, data] = (await readFile(path, 'utf8')).split('\n');
    const h = JSON.parse(header!);
    h.kek.N = 2 ** 30;
    await writeFile(path, `${JSON.stringify(h)}\n${data}\n`);
    await expectUnusableAndUnchanged(passphrase, 'invalid', /scrypt N/);
  });

  it('refuses a header with scrypt N = 2^20 before deriving: no second-long stall, no GiB allocated', async () => {
    const [header, data] = (await readFile(path, 'utf8')).split('\n');
    const h = JSON.parse(header!);
    h.kek.N = 2 ** 20; // ~6.5 s and 1 GiB per attempt when it was accepted
    await writeFile(path, `${JSON.stringify(h)}\n${data}\n`);
    const peakBefore = process.resourceUsage().maxRSS; // KiB, the process's peak so far
    await expectUnusableAndUnchanged(passphrase, 'invalid', /scrypt N = 2\^20 is above the accepted maximum 2\^17 \(raise the provider's maxScryptN/);
    // The peak resident size would have grown by ~1 GiB had scrypt run.
    expect(process.resourceUsage().maxRSS - peakBefore).toBeLessThan(256 * 1024);
  });

  it('applies the configured maxScryptN to the header', async () => {
    const other = join(dir, 'n11.json');
    await initKeystore(other, passphrase, { ...TEST_SCRYPT, N: 2 ** 11 });
    const strict = new SoftwareKeystoreFile(other, passphrase, { maxScryptN: 2 ** 10 });
    await expect(strict.read()).rejects.toThrow(/scrypt N = 2\^11 is above the accepted maximum 2\^10/);
    const lenient = new SoftwareKeystoreFile(other, passphrase);
    expect((await lenient.read()).contents.keys.size).toBe(0);
    lenient.close();
  });

  it.each([
    ['inside the header', (n: number) => Math.floor(n / 4)],
    ['just after the header', (n: number) => n],
    ['inside the data', (n: number) => n + 20],
    ['before the final newline', (_n: number) => -1],
  ])('detects a file truncated %s', async (_where, cut) => {
    const bytes = await readFile(path);
    const headerEnd = bytes.indexOf(0x0a);
    const at = cut(headerEnd);
    await writeFile(path, at < 0 ? bytes.subarray(0, bytes.length + at) : bytes.subarray(0, at));
    await expectUnusableAndUnchanged(passphrase, 'corrupt', /corrupt|truncated/);
  });

  it('reports an empty file as corrupt', async () => {
    await writeFile(path, '');
    await expectUnusableAndUnchanged(passphrase, 'corrupt', /empty/);
  });

  it('says so when the file is some other JSON file', async () => {
    await writeFile(path, '{"hello":"world"}\nAAAA\n');
    await expectUnusableAndUnchanged(passphrase, 'corrupt', /not an xks-proxy software keystore/);
  });

  it('reports a missing file clearly and does not create it on update', async () => {
    const missing = join(dir, 'nope.json');
    path = missing;
    await expectUnusableAndUnchanged(passphrase, 'missing', /does not exist.*keys init/);
    await expect(stat(missing)).rejects.toThrow(/ENOENT/);
  });

  it('refuses to overwrite an existing keystore on init', async () => {
    const before = await readFile(path);
    await expectFileError(initKeystore(path, passphrase, TEST_SCRYPT), 'exists', /already exists/);
    expect(await readFile(path)).toEqual(before);
  });

  it('writes nothing when a change fails, and leaves no temp files', async () => {
    const before = await readFile(path);
    await expect(changeKeystore(path, passphrase, (f, c) => addKey(f, c, 'foo', { usages: [], enabled: true }))).rejects.toThrow(
      `key foo already exists in keystore file ${path}`,
    );
    expect(await readFile(path)).toEqual(before);
    expect((await readdir(dir)).sort()).toEqual(['keystore.json']);
  });

  it('re-encrypts with a fresh IV on every write and keeps mode 0600', async () => {
    const iv = async () => JSON.parse((await readFile(path, 'utf8')).split('\n')[0]!).iv as string;
    const first = await iv();
    await changeKeystore(path, passphrase, (f, c) => addKey(f, c, 'bar', { usages: [], enabled: true }));
    expect(await iv()).not.toBe(first);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('gives a stamp that changes with every rewrite', async () => {
    const file = new SoftwareKeystoreFile(path, passphrase);
    const { stamp } = await file.read();
    expect(await file.stat()).toEqual(stamp);
    await changeKeystore(path, passphrase, (f, c) => addKey(f, c, 'bar', { usages: [], enabled: true }));
    expect(await file.stat()).not.toEqual(stamp);
    file.close();
  });
});
