/**
 * An in-process "front" proxy for upstream tests: the demo prefix and credential, served by
 * an upstream key store that forwards to another XKS endpoint.
 */
import type { Hono } from 'hono';
import { pino } from 'pino';
import { CredentialSet } from '../../src/auth/credential-set.ts';
import type { UpstreamProviderConfig } from '../../src/providers/upstream/upstream-config.ts';
import { createUpstreamKeyStore } from '../../src/providers/upstream/upstream-factory.ts';
import { createApp } from '../../src/server/app.ts';
import { TenantDirectory } from '../../src/xks/tenants.ts';
import type { KeyStore } from '../../src/xks/key-store.ts';
import { DEMO_CREDENTIAL, DEMO_PREFIX } from './xks-client.ts';

/** Where the front's secrets and TLS files resolve, and its request budget. */
export interface UpstreamFrontOptions {
  /** Directory that relative TLS paths and file: secrets resolve against. */
  configDir: string;
  /** Environment for env: secret references. */
  env?: NodeJS.ProcessEnv;
  requestTimeoutMs: number;
}

/**
 * Builds the front's app over an upstream key store (silent log, no health cache, 64 KiB
 * bodies). The caller closes `keyStore` when done: it holds the upstream connection pools.
 */
export function createUpstreamFront(config: UpstreamProviderConfig, opts: UpstreamFrontOptions): { app: Hono; keyStore: KeyStore } {
  const keyStore = createUpstreamKeyStore(config, {
    prefix: DEMO_PREFIX,
    logger: pino({ level: 'silent' }),
    configDir: opts.configDir,
    env: opts.env ?? {},
    healthCacheMs: 0,
    fleetSize: 1,
    proxyModel: 'xks-proxy test',
  });
  const credentials = new CredentialSet([{ accessKeyId: DEMO_CREDENTIAL.accessKeyId, secret: DEMO_CREDENTIAL.secretAccessKey }]);
  const tenants = new TenantDirectory([{ prefix: DEMO_PREFIX, region: 'us-east-1', credentials, keyStore }]);
  const app = createApp({ tenants, logger: pino({ level: 'silent' }), bodyLimitBytes: 64 * 1024, requestTimeoutMs: opts.requestTimeoutMs });
  return { app, keyStore };
}

/**
 * The config entry (as written in YAML) of a front key store that forwards to the demo
 * key store of the proxy at `backUrl` with the demo credential; its secret is read from
 * env:BACK_SECRET, so the caller passes `{ BACK_SECRET: DEMO_CREDENTIAL.secretAccessKey }`.
 * `provider` adds or overrides provider settings (TLS, keyIdMap, timeouts).
 */
export function frontKeyStoreEntry(backUrl: string, opts: { prefix?: string; provider?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    prefix: opts.prefix ?? DEMO_PREFIX,
    credentials: [{ accessKeyId: DEMO_CREDENTIAL.accessKeyId, secretAccessKey: DEMO_CREDENTIAL.secretAccessKey }],
    provider: {
      type: 'upstream',
      endpoints: [{ url: backUrl }],
      uriPrefix: DEMO_PREFIX,
      region: 'us-east-1',
      credential: { accessKeyId: DEMO_CREDENTIAL.accessKeyId, secretAccessKey: 'env:BACK_SECRET' },
      ...opts.provider,
    },
  };
}
