import { describe, expect, it } from 'vitest';
import { pkcs11LibraryParameters, pkcs11ProviderConfigSchema, pkcs11TokenName } from '../../../../src/providers/pkcs11/pkcs11-config.ts';

const base = { type: 'pkcs11', module: '/usr/lib/softhsm/libsofthsm2.so', pin: 'env:HSM_PIN', tokens: [{ label: 'xks' }] };

function issues(input: unknown): string[] {
  const r = pkcs11ProviderConfigSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('pkcs11 provider config', () => {
  it('fills defaults for a single token', () => {
    expect(pkcs11ProviderConfigSchema.parse(base)).toMatchObject({
      sessionsPerToken: 8,
      keyLabels: {},
      unmappedKeys: 'by-label',
      healthKeyLabel: 'xks-health-canary',
      ivSource: 'os',
      keyCacheSeconds: 60,
    });
  });

  it('refuses an inline PIN, naming the field', () => {
    expect(issues({ ...base, pin: '1234' })).toEqual([expect.stringMatching(/^pin: must be a secret reference/)]);
  });

  it('wants exactly one of label or serial per token', () => {
    expect(issues({ ...base, tokens: [{ label: 'a', serial: 'b' }] })[0]).toMatch(/^tokens.0: set exactly one of label or serial/);
    expect(issues({ ...base, tokens: [{}] })[0]).toMatch(/^tokens.0: set exactly one of label or serial/);
  });

  it('wants a PIN for every token', () => {
    expect(issues({ ...base, pin: undefined })).toEqual(['tokens.0.pin: no PIN: set pin here or on the provider (or login: none for a token without login)']);
    expect(issues({ ...base, pin: undefined, tokens: [{ label: 'x', pin: 'file:/run/pin' }] })).toEqual([]);
  });

  it('takes no PIN with login none (a token used without login, e.g. an NSS database)', () => {
    expect(issues({ ...base, pin: undefined, login: 'none' })).toEqual([]);
    expect(issues({ ...base, login: 'none' })).toEqual(['pin: login is none: remove the PIN, or set login: user']);
    expect(issues({ ...base, pin: undefined, login: 'none', tokens: [{ label: 'x', pin: 'env:P' }] })).toEqual([
      'tokens.0.pin: login is none: remove the PIN, or set login: user',
    ]);
    expect(issues({ ...base, login: 'guest' })[0]).toMatch(/^login: Invalid option/);
  });

  it('takes library parameters for C_Initialize on the provider, and per token', () => {
    const nss = "configdir='sql:/var/lib/xks/nss' certPrefix='' keyPrefix='' secmod=''";
    const c = pkcs11ProviderConfigSchema.parse({ ...base, libraryParameters: nss, tokens: [{ label: 'a' }, { label: 'b', libraryParameters: 'other' }] });
    expect(pkcs11LibraryParameters(c, c.tokens[0]!)).toBe(nss);
    expect(pkcs11LibraryParameters(c, c.tokens[1]!)).toBe('other');
    expect(pkcs11LibraryParameters(pkcs11ProviderConfigSchema.parse(base), {})).toBeUndefined();
    expect(issues({ ...base, libraryParameters: '' })[0]).toMatch(/^libraryParameters: /);
  });

  it('allows at most 10 tokens (ekmFleetDetails) with unique names', () => {
    expect(issues({ ...base, tokens: Array.from({ length: 11 }, (_, i) => ({ label: `t${i}` })) })[0]).toMatch(/^tokens: at most 10/);
    expect(issues({ ...base, tokens: [{ label: 'a' }, { label: 'a' }] })[0]).toMatch(/^tokens.1.name: duplicate token name "a"/);
  });

  it('names a token by name, label or serial', () => {
    expect(pkcs11TokenName({ name: 'hsm-1', label: 'x' })).toBe('hsm-1');
    expect(pkcs11TokenName({ label: 'x' })).toBe('x');
    expect(pkcs11TokenName({ serial: '9' })).toBe('serial-9');
  });

  it('rejects unknown fields', () => {
    expect(issues({ ...base, slot: 0 })[0]).toMatch(/Unrecognized key/);
  });
});

describe('config/pkcs11.example.yaml', () => {
  it('holds a valid pkcs11 provider config', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parse } = await import('yaml');
    const raw = parse(await readFile(new URL('../../../../config/pkcs11.example.yaml', import.meta.url), 'utf8')) as {
      keyStores: Array<{ provider: unknown }>;
    };
    expect(pkcs11ProviderConfigSchema.parse(raw.keyStores[0]?.provider)).toMatchObject({ type: 'pkcs11', tokens: [{ name: 'hsm-a' }] });
  });
});
