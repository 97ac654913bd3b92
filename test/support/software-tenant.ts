/**
 * Builds real tenants on a real software keystore in a temp dir, for app-level tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { Hono } from 'hono';
import { createApp } from '../../src/server/app.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { ProxyConfig } from '../../src/config/schema.ts';
import { ensureDemoKeystore } from '../../src/providers/software/software-demo-setup.ts';
import { buildTenants } from '../../src/server/build-tenants.ts';
import { TenantDirectory } from '../../src/xks/tenants.ts';
import { DEMO_CREDENTIAL, DEMO_PREFIX } from './xks-client.ts';

/** A temp dir with a software keystore holding the demo keys, and its config. */
export interface SoftwareFixture {
  dir: string;
  keystorePath: string;
  kekHex: string;
  config: ProxyConfig;
  tenants: TenantDirectory;
  cleanup(): Promise<void>;
}

/** Raw config of a demo-like software key store; `extra` overrides top-level sections. */
export function softwareConfig(keystorePath: string, kekHex: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    keyStores: [
      {
        prefix: DEMO_PREFIX,
        credentials: [{ accessKeyId: DEMO_CREDENTIAL.accessKeyId, secretAccessKey: DEMO_CREDENTIAL.secretAccessKey }],
        provider: { type: 'software', path: keystorePath, kek: kekHex },
      },
    ],
    ...extra,
  };
}

/** Creates the keystore (raw KEK: no scrypt cost in tests) and the tenants over it. */
export async function createSoftwareFixture(
  opts: { logger?: Logger; rawConfig?: (path: string, kek: string) => Record<string, unknown> } = {},
): Promise<SoftwareFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'xks-sw-'));
  const keystorePath = join(dir, 'keystore.json');
  const kekHex = randomBytes(32).toString('hex');
  await ensureDemoKeystore(keystorePath, { kek: kekHex });
  const config = parseConfig((opts.rawConfig ?? softwareConfig)(keystorePath, kekHex), join(dir, 'config.yaml'));
  const tenants = new TenantDirectory(buildTenants(config, { logger: opts.logger ?? pino({ level: 'silent' }), configDir: dir, env: {} }));
  return {
    dir,
    keystorePath,
    kekHex,
    config,
    tenants,
    cleanup: async () => {
      await Promise.allSettled(tenants.all().map((t) => t.keyStore.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The app over a fresh software fixture, as most API tests use it (silent log, 64 KiB bodies, 2 s budget). */
export async function createSoftwareApp(logger: Logger = pino({ level: 'silent' })): Promise<{ fx: SoftwareFixture; app: Hono }> {
  const fx = await createSoftwareFixture();
  const app = createApp({ tenants: fx.tenants, logger, bodyLimitBytes: 64 * 1024, requestTimeoutMs: 2000 });
  return { fx, app };
}
