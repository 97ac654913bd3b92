import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load-config.ts';
import { isSecretRef } from '../config/secret-ref.ts';
import { createLogger } from '../observability/logger.ts';
import { createApp } from './app.ts';
import { buildTenants } from './build-tenants.ts';
import { startListener, type RunningListener } from './listener.ts';
import { TenantDirectory } from './tenants.ts';

/** Overrides the command line may apply on top of the config file. */
export interface StartOverrides {
  port?: number;
  host?: string;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
}

/** A proxy that is serving. */
export interface RunningProxy {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  listener: RunningListener;
  tenants: TenantDirectory;
  logger: Logger;
  /** Stops the listener, then closes every key provider. */
  close(): Promise<void>;
}

/** Builds the key stores from config, starts the listener and logs where it serves. */
export async function startProxy(loaded: LoadedConfig, overrides: StartOverrides = {}): Promise<RunningProxy> {
  const { config } = loaded;
  const env = overrides.env ?? process.env;
  const logger = overrides.logger ?? createLogger(config.logging);
  const server = { ...config.server, port: overrides.port ?? config.server.port, host: overrides.host ?? config.server.host };
  const tenants = new TenantDirectory(buildTenants(config, { logger, configDir: loaded.configDir, env }));
  const app = createApp({
    tenants,
    logger,
    bodyLimitBytes: server.bodyLimitBytes,
    requestTimeoutMs: server.requestTimeoutMs,
  });
  await warmUp(tenants, logger);
  let listener: RunningListener;
  try {
    listener = await startListener(app, server, { logger, configDir: loaded.configDir });
  } catch (e) {
    await Promise.allSettled(tenants.all().map((t) => t.keyStore.close()));
    throw e;
  }
  const host = listener.address.family === 'IPv6' ? `[${listener.address.address}]` : listener.address.address;
  const url = `${listener.scheme}://${host}:${listener.address.port}`;
  warnAboutConfig(loaded, logger);
  for (const t of tenants.all()) {
    logger.info(
      { url: `${url}/${t.prefix === '' ? '' : `${t.prefix}/`}kms/xks/v1`, region: t.region, accessKeyIds: t.credentials.accessKeyIds() },
      'serving key store',
    );
  }
  logger.info({ url, config: loaded.file }, 'xks-proxy listening');
  return {
    url,
    listener,
    tenants,
    logger,
    close: async () => {
      await listener.close();
      await Promise.allSettled(tenants.all().map((t) => t.keyStore.close()));
    },
  };
}

/** How long start-up waits for providers to initialise (open files, log in to HSMs). */
const WARM_UP_BUDGET_MS = 15_000;

/**
 * Initialises every provider and runs the first deep health check before listening, so
 * the first KMS call does not pay for scrypt or an HSM login inside its 250 ms. A key
 * manager that is down does not stop the proxy: it serves, reports UNAVAILABLE, and
 * picks the key manager up when it returns.
 */
async function warmUp(tenants: TenantDirectory, logger: Logger): Promise<void> {
  await Promise.all(
    tenants.all().map(async (t) => {
      const fleet = await t.keyStore.readiness({ deadline: Date.now() + WARM_UP_BUDGET_MS, signal: AbortSignal.timeout(WARM_UP_BUDGET_MS) });
      for (const ekm of fleet) {
        if (ekm.healthStatus === 'UNAVAILABLE') {
          logger.error({ prefix: t.prefix, ekmId: ekm.id, detail: ekm.detail }, 'key manager unavailable at start-up; serving anyway');
        }
      }
    }),
  );
}

function warnAboutConfig(loaded: LoadedConfig, logger: Logger): void {
  const { config } = loaded;
  if (config.server.tls === undefined) {
    logger.warn('serving plain HTTP: AWS KMS only connects over HTTPS; put TLS on this listener or in front of it');
  }
  for (const ks of config.keyStores) {
    if (ks.credentials.some((c) => !isSecretRef(c.secretAccessKey))) {
      logger.warn({ prefix: ks.prefix }, 'a SigV4 secret is written inline in the config file; prefer env:NAME or file:PATH');
    }
  }
}
