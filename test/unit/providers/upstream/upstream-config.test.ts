import { describe, expect, it } from 'vitest';
import { upstreamEndpointId, upstreamProviderConfigSchema } from '../../../../src/providers/upstream/upstream-config.ts';

const base = {
  type: 'upstream',
  endpoints: [{ url: 'https://xks.vendor.example' }],
  uriPrefix: 'vendor/prefix',
  credential: { accessKeyId: 'UPSTREAMACCESSKEYIDABCDE2345', secretAccessKey: 'env:UPSTREAM_SECRET' },
};

function issues(raw: unknown): string[] {
  const result = upstreamProviderConfigSchema.safeParse(raw);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('upstream provider config', () => {
  it('fills the defaults a minimal config leaves out', () => {
    const c = upstreamProviderConfigSchema.parse(base);
    expect(c).toMatchObject({
      region: 'us-east-1',
      keyIdMap: {},
      unmappedKeyIds: 'forward',
      attemptTimeoutMs: 150,
      healthCheckTimeoutMs: 200,
      downBackoffMs: 5_000,
      maxResponseBytes: 65_536,
      pool: { connectionsPerEndpoint: 32, keepAliveTimeoutMs: 60_000, connectTimeoutMs: 1_000 },
    });
  });

  it.each(['https://xks.vendor.example/some/path', 'https://xks.vendor.example/?q=1', 'https://user:pw@xks.vendor.example', 'ftp://xks.vendor.example'])(
    'rejects the endpoint URL %s',
    (url) => {
      expect(issues({ ...base, endpoints: [{ url }] })[0]).toMatch(/^endpoints\.0\.url: /);
    },
  );

  it('rejects two endpoints with the same id', () => {
    expect(issues({ ...base, endpoints: [{ url: 'https://a.example' }, { url: 'https://a.example:443' }] })).toEqual([
      'endpoints.1: duplicate endpoint id "a.example:443"',
    ]);
  });

  it('rejects more than ten endpoints (ekmFleetDetails holds ten)', () => {
    const endpoints = Array.from({ length: 11 }, (_, i) => ({ url: `https://n${i}.example` }));
    expect(issues({ ...base, endpoints })).toHaveLength(1);
  });

  it('rejects key ids outside the spec alphabet on either side of the map', () => {
    expect(issues({ ...base, keyIdMap: { 'ok-id': 'bad/id' } })[0]).toMatch(/^keyIdMap\.ok-id: .*externalKeyId/);
    expect(issues({ ...base, keyIdMap: { 'bad id': 'ok' } })[0]).toMatch(/^keyIdMap\.bad id: /);
  });

  it('refuses __proto__ as a mapped key id instead of dropping the mapping silently', () => {
    expect(issues({ ...base, keyIdMap: JSON.parse('{"__proto__": "upstream-key"}') })[0]).toMatch(/__proto__/);
    expect(upstreamProviderConfigSchema.parse({ ...base, keyIdMap: { constructor: 'k' } }).keyIdMap).toEqual({ constructor: 'k' });
  });

  it('rejects a client certificate without its key', () => {
    expect(issues({ ...base, tls: { cert: 'client.pem' } })[0]).toMatch(/set both cert and key/);
  });

  it('rejects an access key id that is not in the spec format', () => {
    expect(issues({ ...base, credential: { accessKeyId: 'short', secretAccessKey: 'x' } })[0]).toMatch(/^credential\.accessKeyId: /);
  });

  it('rejects a uriPrefix with a leading slash', () => {
    expect(issues({ ...base, uriPrefix: '/vendor' })[0]).toMatch(/^uriPrefix: /);
  });

  it('names an endpoint by its id, else host and port with the scheme default', () => {
    expect(upstreamEndpointId({ url: 'https://xks.vendor.example', id: 'primary' })).toBe('primary');
    expect(upstreamEndpointId({ url: 'https://xks.vendor.example' })).toBe('xks.vendor.example:443');
    expect(upstreamEndpointId({ url: 'http://127.0.0.1:8080' })).toBe('127.0.0.1:8080');
  });
});
