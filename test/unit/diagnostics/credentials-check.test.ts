import { describe, expect, it } from 'vitest';
import { parseConfig, type LoadedConfig } from '../../../src/config/load-config.ts';
import { checkCredentials } from '../../../src/diagnostics/credentials-check.ts';

const GOOD_ID = 'AKIDDOCTORTESTAAAAAAAAAA';
const SECOND_ID = 'AKIDDOCTORTESTBBBBBBBBBB';
const GOOD_SECRET = 'k3Vq9Zs1x0Fh2Jd8Lm4Np6Rt7Uw5Yb0Ce3Gi1Ko9Qs2+';

function loaded(credentials: Array<Record<string, string>>): LoadedConfig {
  const config = parseConfig({ keyStores: [{ prefix: 'p', credentials, provider: { type: 'software', path: 'k.json', kek: 'env:KEK' } }] }, 'doctor.yaml');
  return { config, file: '/tmp/doctor.yaml', configDir: '/tmp' };
}

const byId = (results: ReturnType<typeof checkCredentials>, id: string) => results.filter((r) => r.id === id);

describe('credential checks', () => {
  it('accepts two well-formed credentials held outside the config file', () => {
    const results = checkCredentials(
      loaded([
        { accessKeyId: GOOD_ID, secretAccessKey: 'env:S1' },
        { accessKeyId: SECOND_ID, secretAccessKey: 'env:S2' },
      ]),
      { env: { S1: GOOD_SECRET, S2: GOOD_SECRET.replace('k', 'j') } },
    );
    expect(results.filter((r) => r.level !== 'ok')).toEqual([]);
    expect(byId(results, 'credentials.rotation')[0]?.message).toContain('2 credentials');
  });

  it('fails a secret that is too short, saying how long it is but never showing it', () => {
    const secret = 'short-secret-value';
    const [format] = byId(checkCredentials(loaded([{ accessKeyId: GOOD_ID, secretAccessKey: 'env:S' }]), { env: { S: secret } }), 'credentials.format');
    expect(format?.level).toBe('fail');
    expect(format?.message).toContain(`${secret.length} characters`);
    expect(format?.kmsState).toBe('INVALID_CREDENTIALS');
    expect(JSON.stringify(format)).not.toContain(secret);
  });

  it('fails a secret with characters outside the Base64 alphabet', () => {
    const secret = `${GOOD_SECRET.slice(0, 43)}_`;
    const [format] = byId(checkCredentials(loaded([{ accessKeyId: GOOD_ID, secretAccessKey: 'env:S' }]), { env: { S: secret } }), 'credentials.format');
    expect(format?.level).toBe('fail');
    expect(format?.message).toContain('characters other than');
  });

  it('fails a secret reference that does not resolve, naming the variable', () => {
    const [format] = byId(checkCredentials(loaded([{ accessKeyId: GOOD_ID, secretAccessKey: 'env:MISSING_SECRET' }]), { env: {} }), 'credentials.format');
    expect(format?.level).toBe('fail');
    expect(format?.message).toContain('MISSING_SECRET');
  });

  it('warns when only one credential is configured', () => {
    const [rotation] = byId(
      checkCredentials(loaded([{ accessKeyId: GOOD_ID, secretAccessKey: 'env:S' }]), { env: { S: GOOD_SECRET } }),
      'credentials.rotation',
    );
    expect(rotation?.level).toBe('warn');
    expect(rotation?.fix).toMatch(/second credential/);
  });

  it('warns about the public demo credential and about inline secrets', () => {
    const results = checkCredentials(
      loaded([
        { accessKeyId: 'BETWEEN2TENAND3TENCHARACTERS', secretAccessKey: 'PleaseReplaceThisWithSomeSecretOfLength43To64' },
        { accessKeyId: GOOD_ID, secretAccessKey: GOOD_SECRET },
      ]),
      { env: {} },
    );
    const formats = byId(results, 'credentials.format');
    expect(formats[0]?.level).toBe('warn');
    expect(formats[0]?.message).toContain('public');
    expect(formats[1]?.level).toBe('warn');
    expect(formats[1]?.message).toContain('inline');
  });

  it('warns when a credential is older than the configured age and not before', () => {
    const config = loaded([{ accessKeyId: GOOD_ID, secretAccessKey: 'env:S', createdAt: '2025-01-01' }]);
    const at = (iso: string, maxAgeDays?: number) =>
      byId(checkCredentials(config, { env: { S: GOOD_SECRET }, now: new Date(iso), maxAgeDays }), 'credentials.age')[0]!;
    expect(at('2025-03-01T00:00:00Z').level).toBe('ok');
    expect(at('2025-06-01T00:00:00Z').level).toBe('warn');
    expect(at('2025-06-01T00:00:00Z').message).toContain('151 days');
    expect(at('2025-06-01T00:00:00Z', 365).level).toBe('ok');
  });

  it('never sees a createdAt that is not a date: the config refuses it, naming the field', () => {
    expect(() => loaded([{ accessKeyId: GOOD_ID, secretAccessKey: 'env:S', createdAt: 'last tuesday' }])).toThrow(
      /keyStores\.0\.credentials\.0\.createdAt: must be an ISO date/,
    );
  });
});
