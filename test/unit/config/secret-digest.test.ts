import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { secretRefsDigest } from '../../../src/config-values/secret-digest.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xks-digest-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('secretRefsDigest', () => {
  const provider = { type: 'pkcs11', pin: 'file:pin.txt', tokens: [{ label: 'a', pin: 'env:PIN_B' }], path: '/not/a/ref' };

  it('changes when a referenced file or variable changes, not when nothing did', async () => {
    await writeFile(join(dir, 'pin.txt'), '1234\n');
    const env = { PIN_B: 'b' };
    const first = secretRefsDigest(provider, env, dir, 'provider');
    expect(secretRefsDigest(provider, env, dir, 'provider')).toBe(first);
    await writeFile(join(dir, 'pin.txt'), '4321\n');
    const second = secretRefsDigest(provider, env, dir, 'provider');
    expect(second).not.toBe(first);
    expect(secretRefsDigest(provider, { PIN_B: 'c' }, dir, 'provider')).not.toBe(second);
  });

  it('names the field and never the secret when a reference cannot be read; shows no secret in the digest', async () => {
    expect(() => secretRefsDigest(provider, { PIN_B: 'b' }, dir, 'provider')).toThrow(/provider\.pin: cannot read secret file .*pin\.txt \(ENOENT\)/);
    await writeFile(join(dir, 'pin.txt'), 'very-secret-pin');
    expect(() => secretRefsDigest(provider, {}, dir, 'provider')).toThrow('provider.tokens.0.pin: environment variable PIN_B is not set');
    expect(secretRefsDigest(provider, { PIN_B: 'b' }, dir, 'provider')).not.toContain('very-secret-pin');
  });
});
