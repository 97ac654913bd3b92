import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kmipProviderConfigSchema } from '../../../../src/providers/kmip/kmip-config.ts';
import { kmipEndpoints } from '../../../../src/providers/kmip/kmip-provider.ts';

const minimal = { type: 'kmip', servers: [{ host: 'kmip.example' }], tls: { ca: 'ca.pem', cert: 'c.pem', key: 'c.key' } };

describe('KMIP provider config', () => {
  it('accepts the commented example in config/kmip.example.yaml', () => {
    const raw = parse(readFileSync(new URL('../../../../config/kmip.example.yaml', import.meta.url), 'utf8')) as {
      keyStores: Array<{ provider: unknown }>;
    };
    const config = kmipProviderConfigSchema.parse(raw.keyStores[0]?.provider);
    expect(kmipEndpoints(config).map((s) => s.id)).toEqual(['kmip-a', 'kmip-b']);
    expect(config.keyNamePrefix).toBe('tenant-a/');
  });

  it('fills in the defaults: port 5696, TLS 1.2, four connections, 150 ms attempts', () => {
    const config = kmipProviderConfigSchema.parse(minimal);
    expect(config.servers[0]?.port).toBe(5696);
    expect(config.tls.minVersion).toBe('TLSv1.2');
    expect(config.pool).toEqual({ maxConnectionsPerServer: 4, idleTimeoutMs: 60_000 });
    expect(config.attemptTimeoutMs).toBe(150);
    expect(config.healthCheckKeyName).toBe('xks-proxy-health-canary');
    expect(kmipEndpoints(config)[0]?.id).toBe('kmip.example:5696');
  });

  it('rejects duplicate server ids, more than 10 servers, unknown fields and TLS below 1.2', () => {
    expect(kmipProviderConfigSchema.safeParse({ ...minimal, servers: [{ host: 'a' }, { host: 'a' }] }).success).toBe(false);
    expect(kmipProviderConfigSchema.safeParse({ ...minimal, servers: Array.from({ length: 11 }, (_, i) => ({ host: `h${i}` })) }).success).toBe(false);
    expect(kmipProviderConfigSchema.safeParse({ ...minimal, protocol: '1.2' }).success).toBe(false);
    expect(kmipProviderConfigSchema.safeParse({ ...minimal, tls: { ...minimal.tls, minVersion: 'TLSv1.1' } }).success).toBe(false);
  });
});
