import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckGroup, CheckResult } from '../../src/diagnostics/check-result.ts';
import { runDoctor } from '../../src/diagnostics/run-doctor.ts';
import { changeKeystore, setKeyEnabled } from '../../src/providers/software/software-keystore.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';

let fx: SoftwareFixture;
let configPath: string;

beforeEach(async () => {
  fx = await createSoftwareFixture();
  configPath = join(fx.dir, 'doctor.yaml');
  writeFileSync(configPath, stringify(softwareConfig(fx.keystorePath, fx.kekHex)));
});
afterEach(() => fx.cleanup());

const ONLY_KEYS: CheckGroup[] = ['tls', 'credentials', 'latency', 'end-to-end', 'clock'];

async function doctor(skip: CheckGroup[], keys: string[] = []) {
  const report = await runDoctor({ configPath, skip, keys, env: {}, latencySamples: 20 });
  const lines = (id: string, subjectPart = ''): CheckResult[] => report.checks.filter((c) => c.id === id && c.subject.includes(subjectPart));
  return { report, lines };
}

describe('doctor key checks on a real software keystore', () => {
  it('lists every key of the keystore and passes a key with both usages', async () => {
    const { lines } = await doctor(ONLY_KEYS);
    expect(
      lines('keys.key')
        .map((l) => l.subject.split(' key ')[1])
        .sort(),
    ).toEqual(['decrypt_only_key', 'encrypt_only_key', 'foo', 'impotent_key']);
    expect(lines('keys.key', 'key foo')[0]).toMatchObject({ level: 'ok', message: 'AES_256, ENCRYPT and DECRYPT, ENABLED' });
    expect(lines('keys.canary')[0]?.level).toBe('ok');
  });

  it('fails an encrypt-only key named with --key: KMS CreateKey refuses it, and the run exits 1', async () => {
    const { lines, report } = await doctor(ONLY_KEYS, ['encrypt_only_key']);
    const [line] = lines('keys.key');
    expect(line?.level).toBe('fail');
    expect(line?.message).toContain('lacks DECRYPT');
    expect(line?.message).toContain('Decrypt and ReEncrypt from this key will fail');
    expect(line?.message).toContain('CreateKey refuses it');
    expect(line?.kmsState).toContain('XksKeyInvalidConfigurationException');
    expect(line?.fix).toContain('CKA_DECRYPT=true');
    expect(report.ok).toBe(false);
  });

  it('only warns about a key that lacks a usage when it was listed from the key manager, not named', async () => {
    const { lines, report } = await doctor(ONLY_KEYS);
    expect(lines('keys.key', 'key encrypt_only_key')[0]?.level).toBe('warn');
    expect(lines('keys.key', 'key decrypt_only_key')[0]?.level).toBe('warn');
    expect(report.checks.filter((c) => c.level === 'fail')).toEqual([]);
  });

  it('fails a key id the key manager does not have', async () => {
    const { lines, report } = await doctor(ONLY_KEYS, ['no-such-key']);
    expect(lines('keys.key')[0]).toMatchObject({ level: 'fail', kmsState: expect.stringContaining('XksKeyNotFoundException') });
    expect(report.ok).toBe(false);
  });

  it('applies PREFIX=ID only to that key store', async () => {
    const { lines } = await doctor(ONLY_KEYS, ['other/prefix=foo', 'example/uri/path/prefix=decrypt_only_key']);
    expect(lines('keys.key').map((l) => l.subject)).toEqual(['keyStores[prefix="example/uri/path/prefix"] key decrypt_only_key']);
  });

  it('fails a disabled key named with --key, and the end-to-end line does not ask for --key again', async () => {
    await changeKeystore(fx.keystorePath, { kek: fx.kekHex }, (file, contents) => setKeyEnabled(file, contents, 'foo', false));
    const { lines, report } = await doctor(ONLY_KEYS, ['foo']);
    expect(lines('keys.key')[0]).toMatchObject({ level: 'fail', kmsState: expect.stringContaining('XksKeyInvalidConfigurationException (CreateKey)') });
    expect(lines('keys.key')[0]?.message).toContain('DISABLED');
    expect(lines('keys.key')[0]?.message).toContain('CreateKey refuses it');
    expect(report.ok).toBe(false);
  });

  it('fails the canary of a stopped provider (corrupt keystore file) and says KMS sees the store as unreachable', async () => {
    writeFileSync(fx.keystorePath, 'this is not a keystore');
    const { lines, report } = await doctor(ONLY_KEYS);
    const [canary] = lines('keys.canary');
    expect(canary).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_NOT_REACHABLE' });
    expect(canary?.message).toContain('UNAVAILABLE');
    expect(canary?.message).toContain(fx.keystorePath);
    expect(report.ok).toBe(false);
  });

  it('fails the canary when the keystore file cannot be read at all', async () => {
    // root reads any file whatever its mode, so make the path a directory instead.
    const dirConfig = join(fx.dir, 'dir.yaml');
    writeFileSync(dirConfig, stringify(softwareConfig(fx.dir, fx.kekHex)));
    const report = await runDoctor({ configPath: dirConfig, skip: ONLY_KEYS, env: {} });
    const canary = report.checks.find((c) => c.id === 'keys.canary');
    expect(canary?.level).toBe('fail');
    expect(canary?.message).toContain('is not a regular file (a directory)');
    expect(report.checks.find((c) => c.id === 'keys.key')?.message).toContain('could not be read');
  });
});

describe('doctor latency checks', () => {
  it('times Encrypt and Decrypt through the key store against the 250 ms budget', async () => {
    const { lines } = await doctor(['tls', 'credentials', 'keys', 'end-to-end', 'clock'], ['foo']);
    const [enc] = lines('latency.encrypt');
    const [dec] = lines('latency.decrypt');
    expect(enc?.level).toBe('ok');
    expect(enc?.data).toMatchObject({ count: 20, budgetMs: 250 });
    expect(enc?.message).toMatch(/p50 [\d.]+ ms, p99 [\d.]+ ms/);
    expect(dec?.data?.p99).toBeLessThan(150);
  });

  it('falls back to timing the health canary when no key is usable', async () => {
    const { lines } = await doctor(['tls', 'credentials', 'keys', 'end-to-end', 'clock'], ['encrypt_only_key']);
    expect(lines('latency.canary')[0]?.level).toBe('ok');
    expect(lines('latency.encrypt')).toEqual([]);
  });
});
