import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDemoKeystore } from '../../../../src/providers/software/software-demo-setup.ts';
import { SoftwareKeystoreFile } from '../../../../src/providers/software/software-keystore-file.ts';
import { addKey, changeKeystore, initKeystore, readKeySummaries, rotateKey, setKeyEnabled } from '../../../../src/providers/software/software-keystore.ts';
import { makeTempDir, rawKekSecret } from '../../../support/software-keystore-fixture.ts';

let cleanup: () => Promise<void>;
let path: string;
const secret = rawKekSecret();

beforeEach(async () => {
  const tmp = await makeTempDir();
  cleanup = tmp.cleanup;
  path = join(tmp.dir, 'ks.json');
});
afterEach(() => cleanup());

describe('software keystore keys', () => {
  beforeEach(() => initKeystore(path, secret));

  it('creates keys with the usage flags given: both, encrypt, decrypt, none', async () => {
    await changeKeystore(path, secret, (f, c) => {
      addKey(f, c, 'both', { usages: ['DECRYPT', 'ENCRYPT', 'DECRYPT'], enabled: true });
      addKey(f, c, 'enc', { usages: ['ENCRYPT'], enabled: true });
      addKey(f, c, 'dec', { usages: ['DECRYPT'], enabled: true });
      addKey(f, c, 'none', { usages: [], enabled: false });
    });
    const keys = Object.fromEntries((await readKeySummaries(path, secret)).map((k) => [k.keyId, k]));
    expect(keys.both).toMatchObject({ usages: ['ENCRYPT', 'DECRYPT'], enabled: true, currentVersion: 1 });
    expect(keys.enc!.usages).toEqual(['ENCRYPT']);
    expect(keys.dec!.usages).toEqual(['DECRYPT']);
    expect(keys.none).toMatchObject({ usages: [], enabled: false });
  });

  it('lists keys sorted by id and never lists the health canary', async () => {
    await changeKeystore(path, secret, (f, c) => {
      for (const id of ['zeta', 'alpha', 'Mid']) addKey(f, c, id, { usages: [], enabled: true });
    });
    expect((await readKeySummaries(path, secret)).map((k) => k.keyId)).toEqual(['Mid', 'alpha', 'zeta']);
  });

  it('keeps the canary apart from customer keys, with its own material', async () => {
    await changeKeystore(path, secret, (f, c) => addKey(f, c, 'foo', { usages: ['ENCRYPT'], enabled: true }));
    const file = new SoftwareKeystoreFile(path, secret);
    const { contents } = await file.read();
    expect([...contents.keys.keys()]).toEqual(['foo']);
    expect(contents.canary.expose().equals(contents.keys.get('foo')!.versions[0]!.material.expose())).toBe(false);
    file.close();
  });

  it('accepts key ids of 1-128 characters of A-Za-z0-9._- and rejects others', async () => {
    const ok = ['a', 'A.b_c-9', 'x'.repeat(128)];
    const bad = ['', 'x'.repeat(129), 'has space', 'slash/id', 'ümlaut', 'colon:id'];
    await changeKeystore(path, secret, (f, c) => ok.forEach((id) => addKey(f, c, id, { usages: [], enabled: true })));
    for (const id of bad) {
      await expect(changeKeystore(path, secret, (f, c) => addKey(f, c, id, { usages: [], enabled: true }))).rejects.toThrow(/invalid key id/);
    }
    expect(await readKeySummaries(path, secret)).toHaveLength(ok.length);
  });

  it('rotation adds a version and keeps the older ones', async () => {
    await changeKeystore(path, secret, (f, c) => addKey(f, c, 'foo', { usages: ['ENCRYPT', 'DECRYPT'], enabled: true }));
    const rotated = await changeKeystore(path, secret, (f, c) => rotateKey(f, c, 'foo'));
    expect(rotated.currentVersion).toBe(2);
    await changeKeystore(path, secret, (f, c) => rotateKey(f, c, 'foo'));
    const [foo] = await readKeySummaries(path, secret);
    expect(foo!.versions.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(foo!.currentVersion).toBe(3);

    const file = new SoftwareKeystoreFile(path, secret);
    const { contents } = await file.read();
    const materials = contents.keys.get('foo')!.versions.map((v) => v.material.expose().toString('hex'));
    expect(new Set(materials).size).toBe(3);
    file.close();
  });

  it('disables and enables a key without touching its material', async () => {
    await changeKeystore(path, secret, (f, c) => addKey(f, c, 'foo', { usages: ['ENCRYPT'], enabled: true }));
    const file = new SoftwareKeystoreFile(path, secret);
    const before = (await file.read()).contents.keys.get('foo')!.versions[0]!.material.expose().toString('hex');
    expect((await changeKeystore(path, secret, (f, c) => setKeyEnabled(f, c, 'foo', false))).enabled).toBe(false);
    expect((await readKeySummaries(path, secret))[0]!.enabled).toBe(false);
    expect((await changeKeystore(path, secret, (f, c) => setKeyEnabled(f, c, 'foo', true))).enabled).toBe(true);
    const after = (await file.read()).contents.keys.get('foo')!.versions[0]!.material.expose().toString('hex');
    expect(after).toBe(before);
    file.close();
  });

  it('names the key and the file when rotating or disabling a key that does not exist', async () => {
    await expect(changeKeystore(path, secret, (f, c) => rotateKey(f, c, 'ghost'))).rejects.toThrow(`key ghost does not exist in keystore file ${path}`);
    await expect(changeKeystore(path, secret, (f, c) => setKeyEnabled(f, c, 'ghost', false))).rejects.toThrow(/ghost does not exist/);
  });
});

describe('ensureDemoKeystore', () => {
  it('creates the demo keys with the test client usages, then does nothing on the next call', async () => {
    const first = await ensureDemoKeystore(path, secret);
    expect(first).toEqual({ createdFile: true, createdKeys: ['foo', 'encrypt_only_key', 'decrypt_only_key', 'impotent_key'] });
    const keys = Object.fromEntries((await readKeySummaries(path, secret)).map((k) => [k.keyId, k.usages]));
    expect(keys).toEqual({
      foo: ['ENCRYPT', 'DECRYPT'],
      encrypt_only_key: ['ENCRYPT'],
      decrypt_only_key: ['DECRYPT'],
      impotent_key: [],
    });
    const second = await ensureDemoKeystore(path, secret);
    expect(second).toEqual({ createdFile: false, createdKeys: [] });
  });

  it('adds only the missing demo keys and leaves existing ones alone', async () => {
    await initKeystore(path, secret);
    await changeKeystore(path, secret, (f, c) => {
      addKey(f, c, 'foo', { usages: [], enabled: false });
      rotateKey(f, c, 'foo');
    });
    expect(await ensureDemoKeystore(path, secret)).toEqual({ createdFile: false, createdKeys: ['encrypt_only_key', 'decrypt_only_key', 'impotent_key'] });
    const foo = (await readKeySummaries(path, secret)).find((k) => k.keyId === 'foo')!;
    expect(foo).toMatchObject({ usages: [], enabled: false, currentVersion: 2 });
  });

  it('fails clearly, without overwriting, when the existing keystore has another secret', async () => {
    await ensureDemoKeystore(path, secret);
    await expect(ensureDemoKeystore(path, rawKekSecret())).rejects.toThrow(`wrong kek for keystore file ${path}`);
    expect(await readKeySummaries(path, secret)).toHaveLength(4);
  });
});
