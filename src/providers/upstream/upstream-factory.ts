import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { configMap } from '../../config-values/config-map.ts';
import { resolveSecretRef } from '../../config-values/secret-ref.ts';
import type { KeyStore } from '../../xks/key-store.ts';
import { UpstreamClient, type UpstreamTlsMaterial } from './upstream-client.ts';
import { upstreamEndpointId, type UpstreamEndpointConfig, type UpstreamProviderConfig } from './upstream-config.ts';
import { UpstreamFleet } from './upstream-fleet.ts';
import { UpstreamKeyStore } from './upstream-key-store.ts';

/** What createUpstreamKeyStore needs besides the provider config. */
export interface UpstreamKeyStoreDeps {
  /** Our URI prefix (the tenant this key store serves). */
  prefix: string;
  logger: Logger;
  /** Directory of the config file; relative TLS paths and file: secrets resolve against it. */
  configDir: string;
  /** Environment for secret references (env:NAME). */
  env: NodeJS.ProcessEnv;
  healthCacheMs: number;
  fleetSize: number;
  proxyModel: string;
}

/**
 * Builds an upstream key store from config: reads the TLS files and the upstream secret now
 * (a wrong path or a missing variable stops the start with a message naming the field), and
 * opens one connection pool per endpoint (connections are made on first use).
 */
export function createUpstreamKeyStore(config: UpstreamProviderConfig, deps: UpstreamKeyStoreDeps): KeyStore {
  const field = `keyStores[prefix=${deps.prefix}].provider`;
  const secret = resolveSecretRef(config.credential.secretAccessKey, `${field}.credential.secretAccessKey`, deps.env, deps.configDir);
  const tls = config.tls === undefined ? undefined : loadTls(config.tls, deps, field);
  const endpoints = config.endpoints.map((endpoint) => {
    const id = upstreamEndpointId(endpoint);
    warnAboutPlainHttp(endpoint, id, deps.logger);
    const client = new UpstreamClient({
      origin: endpoint.url,
      // Each pool gets its own copy of the secret: it is zeroed when that pool closes.
      credential: { accessKeyId: config.credential.accessKeyId, secret: Buffer.from(secret, 'utf8'), region: config.region },
      tls: tls === undefined ? undefined : { ...tls, ...(endpoint.serverName === undefined ? {} : { servername: endpoint.serverName }) },
      connections: config.pool.connectionsPerEndpoint,
      keepAliveTimeoutMs: config.pool.keepAliveTimeoutMs,
      connectTimeoutMs: config.pool.connectTimeoutMs,
      maxResponseBytes: config.maxResponseBytes,
    });
    return { id, client };
  });
  const fleet = new UpstreamFleet(endpoints, { attemptTimeoutMs: config.attemptTimeoutMs, downBackoffMs: config.downBackoffMs, logger: deps.logger });
  return new UpstreamKeyStore(fleet, {
    prefix: deps.prefix,
    uriPrefix: config.uriPrefix,
    keyIdMap: configMap(config.keyIdMap),
    unmappedKeyIds: config.unmappedKeyIds,
    healthCacheMs: deps.healthCacheMs,
    healthCheckTimeoutMs: config.healthCheckTimeoutMs,
    fleetSize: deps.fleetSize,
    proxyModel: deps.proxyModel,
    ...(config.ekmVendor === undefined ? {} : { ekmVendor: config.ekmVendor }),
    logger: deps.logger,
  });
}

function loadTls(tls: NonNullable<UpstreamProviderConfig['tls']>, deps: UpstreamKeyStoreDeps, field: string): UpstreamTlsMaterial {
  const read = (path: string | undefined, name: string) => {
    if (path === undefined) return undefined;
    const full = resolve(deps.configDir, path);
    try {
      return readFileSync(full);
    } catch (e) {
      throw new Error(`${field}.tls.${name}: cannot read ${full} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const material: UpstreamTlsMaterial = { minVersion: tls.minVersion };
  const ca = read(tls.ca, 'ca');
  const cert = read(tls.cert, 'cert');
  const key = read(tls.key, 'key');
  if (ca !== undefined) material.ca = ca;
  if (cert !== undefined) material.cert = cert;
  if (key !== undefined) material.key = key;
  if (tls.keyPassphrase !== undefined) material.passphrase = resolveSecretRef(tls.keyPassphrase, `${field}.tls.keyPassphrase`, deps.env, deps.configDir);
  return material;
}

/** Plain HTTP carries plaintext and keys' answers in the clear: fine on loopback only. */
function warnAboutPlainHttp(endpoint: UpstreamEndpointConfig, id: string, logger: Logger): void {
  const url = new URL(endpoint.url);
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || url.hostname.startsWith('127.');
  if (url.protocol === 'http:' && !loopback) {
    logger.warn({ endpoint: id }, 'upstream endpoint uses plain HTTP: plaintext crosses the network unencrypted; use https');
  }
}
