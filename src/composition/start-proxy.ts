import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load-config.ts';
import type { ProxyConfig } from '../config/schema.ts';
import { exposedSecretFiles, exposedSecretMessage } from '../config/secret-files.ts';
import { isSecretRef, resolveSecretRef } from '../config-values/secret-ref.ts';
import { renderStatus } from '../diagnostics/status-report.ts';
import { statusRoutes } from '../diagnostics/status-routes.ts';
import { workerSlot } from '../ops/worker-slot.ts';
import { startAdminServer, type AdminServer, type AdminViews } from './admin-server.ts';
import { readinessReport } from '../server/readiness.ts';
import { createLogger } from '../observability/logger.ts';
import type { FetchApp } from '../ops/in-flight.ts';
import { ProxyOps } from '../ops/proxy-ops.ts';
import { ConfigReloader, type ReloadOutcome } from '../ops/reload.ts';
import { shutdownGracefully, type ShutdownResult } from '../ops/shutdown.ts';
import { createApp, type AppDeps } from '../server/app.ts';
import {
  buildKeyStore,
  buildTenants,
  providerSecretsDigest,
  providerSecretsOf,
  resolveCredentials,
  type BuildTenantsOptions,
} from '../server/build-tenants.ts';
import { startListener, type RunningListener } from '../server/listener.ts';
import { StatusTracker } from '../server/status-tracker.ts';
import { callContextWithin } from '../xks/call-context.ts';
import type { Tenant, TenantDirectory } from '../xks/tenants.ts';

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
  /** Per key store activity behind GET /status. */
  tracker: StatusTracker;
  /** The Prometheus endpoint, when `metrics` is configured. */
  metricsUrl: string | undefined;
  /** The admin listener's base URL, when `admin` is configured (never in a cluster worker: the primary serves it). */
  adminUrl: string | undefined;
  /** This process's /ready and /status answers (what a cluster worker gives the primary). */
  adminViews: AdminViews;
  /** Re-reads the config file and applies it (SIGHUP); a bad config is rejected and logged. */
  reload(trigger?: string): Promise<ReloadOutcome>;
  /**
   * Graceful stop: no new connections, requests in flight finish (within
   * shutdown.drainTimeoutMs), then the audit log, metrics listener and key providers close.
   */
  shutdown(): Promise<ShutdownResult>;
  /** `shutdown()` without its result. */
  close(): Promise<void>;
}

/** Builds the key stores from config, starts the listener and logs where it serves. */
export async function startProxy(loaded: LoadedConfig, overrides: StartOverrides = {}): Promise<RunningProxy> {
  const { config } = loaded;
  const logger = overrides.logger ?? createLogger(config.logging);
  const server = { ...config.server, port: overrides.port ?? config.server.port, host: overrides.host ?? config.server.host };
  const ops = await ProxyOps.create(loaded, logger);
  const parts: ProxyParts = { loaded, env: overrides.env ?? process.env, logger, server, ops };
  const tenants = ops.tenants;
  await buildFirstTenants(parts);
  // What KMS did and what we answered, per key store, for `xks-proxy status`.
  const tracker = new StatusTracker((prefix) => tenants.get(prefix) !== undefined);
  const app = ops.wrap(createApp(appDeps(parts, tracker)));
  const adminViews: AdminViews = {
    ready: () => readinessReport(tenants.all(), server.requestTimeoutMs),
    status: () => renderStatus(tracker, tenants.all(), { current: () => ops.loaded, healthBudgetMs: server.requestTimeoutMs }),
  };
  await warmUp(tenants.all(), logger);
  const { listener, admin } = await startListeners(parts, app, adminViews);
  const url = listenerUrl(listener);
  warnAboutConfig(loaded, logger);
  for (const t of tenants.all()) {
    logger.info(
      { url: `${url}/${t.prefix === '' ? '' : `${t.prefix}/`}kms/xks/v1`, region: t.region, accessKeyIds: t.credentials.accessKeyIds() },
      'serving key store',
    );
  }
  const reloader = configReloader(parts);
  if (config.reload.watch) reloader.watch(config.reload.watchIntervalMs);
  logger.info({ url, config: loaded.file }, 'xks-proxy listening');
  const shutdown = shutdownOnce(parts, listener, admin, reloader);
  return {
    url,
    listener,
    tenants,
    logger,
    tracker,
    metricsUrl: ops.metricsUrl,
    adminUrl: admin?.url,
    adminViews,
    reload: (trigger = 'api') => reloader.reload(trigger),
    shutdown,
    close: async () => {
      await shutdown();
    },
  };
}

/** What every start-up phase reads: the config as loaded, the process's environment and logger, the ops layer. */
interface ProxyParts {
  loaded: LoadedConfig;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** The listener's settings, with the command line's port and host applied. */
  server: ProxyConfig['server'];
  ops: ProxyOps;
}

/** How key stores are built, for a config file in `configDir` (the first one, or a reloaded one). */
function buildOptions({ logger, env }: ProxyParts, configDir: string): BuildTenantsOptions {
  return { logger, configDir, env };
}

/** Builds the configured key stores, each decorated by ops; on failure closes ops and rethrows. */
async function buildFirstTenants(parts: ProxyParts): Promise<void> {
  const { loaded, ops } = parts;
  try {
    ops.tenants.replace(buildTenants(loaded.config, buildOptions(parts, loaded.configDir)).map((t, i) => ops.decorate(t, loaded.config.keyStores[i]!)));
  } catch (e) {
    await ops.close();
    throw e;
  }
}

/** The XKS app's dependencies: key stores, limits and admission from ops, the observers, the status routes when enabled. */
function appDeps({ loaded, env, logger, server, ops }: ProxyParts, tracker: StatusTracker): AppDeps {
  const { config } = loaded;
  const statusToken =
    config.server.statusToken === undefined ? undefined : resolveSecretRef(config.server.statusToken, 'server.statusToken', env, loaded.configDir);
  return {
    tenants: ops.tenants,
    logger,
    bodyLimitBytes: server.bodyLimitBytes,
    requestTimeoutMs: server.requestTimeoutMs,
    admit: ops.admit,
    refusalLevel: () => ops.loaded.config.logging.refusalLevel,
    observers: [...ops.observers, tracker.observe],
    extraRoutes: config.server.statusEndpoint
      ? statusRoutes(tracker, ops.tenants, { current: () => ops.loaded, token: statusToken, healthBudgetMs: server.requestTimeoutMs })
      : undefined,
  };
}

/**
 * Starts the XKS listener, the metrics listener and (outside a cluster worker) the admin
 * listener; if any cannot start, closes the key stores and ops and rethrows.
 */
async function startListeners(
  { loaded, env, logger, server, ops }: ProxyParts,
  app: FetchApp,
  adminViews: AdminViews,
): Promise<{ listener: RunningListener; admin: AdminServer | undefined }> {
  const { config } = loaded;
  try {
    const listener = await startListener(app, server, {
      logger,
      configDir: loaded.configDir,
      onConnectionRefused: (limit) => ops.metrics.connectionsRefused.inc({ limit }),
    });
    ops.metrics.watchConnections(() => listener.connections());
    await ops.startMetrics();
    let admin: AdminServer | undefined;
    // A cluster worker leaves the admin listener to the primary, which asks every worker.
    if (config.admin !== undefined && workerSlot() === undefined) {
      const token = config.admin.token === undefined ? undefined : resolveSecretRef(config.admin.token, 'admin.token', env, loaded.configDir);
      admin = await startAdminServer(adminViews, { host: config.admin.host, port: config.admin.port, token, logger });
    }
    return { listener, admin };
  } catch (e) {
    await Promise.allSettled(ops.tenants.all().map((t) => t.keyStore.close()));
    await ops.close();
    throw e;
  }
}

/** The listener's base URL, e.g. https://[::1]:8443 */
function listenerUrl(listener: RunningListener): string {
  const host = listener.address.family === 'IPv6' ? `[${listener.address.address}]` : listener.address.address;
  return `${listener.scheme}://${host}:${listener.address.port}`;
}

/** Reloads the config file (SIGHUP, the file watcher, the API): ops applies it, building new key stores as needed. */
function configReloader(parts: ProxyParts): ConfigReloader {
  const { loaded, env, logger, ops } = parts;
  return new ConfigReloader({
    file: loaded.file,
    logger,
    onOutcome: (ok) => ops.metrics.reloads.inc({ result: ok ? 'applied' : 'rejected' }),
    apply: (next) =>
      ops.applyConfig(next, {
        resolveCredentials,
        providerSecretsDigest,
        providerSecretsOf,
        buildKeyStore: (ks, cfg) => buildKeyStore(ks, cfg, buildOptions(parts, next.configDir)),
        warmUp: (fresh) => warmUp(fresh, logger),
        env,
      }),
  });
}

/** The graceful stop, run once however often it is asked for (every call gets the same result). */
function shutdownOnce(
  { logger, ops }: ProxyParts,
  listener: RunningListener,
  admin: AdminServer | undefined,
  reloader: ConfigReloader,
): () => Promise<ShutdownResult> {
  let closing: Promise<ShutdownResult> | undefined;
  return () => {
    reloader.stop();
    closing ??= shutdownGracefully({
      stopAccepting: () => listener.close(),
      inFlight: ops.inFlight,
      drainTimeoutMs: ops.loaded.config.shutdown.drainTimeoutMs,
      logger,
      release: async () => {
        await admin?.close();
        await Promise.allSettled(ops.tenants.all().map((t) => t.keyStore.close()));
        await ops.close();
      },
    });
    return closing;
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
async function warmUp(tenants: readonly Tenant[], logger: Logger): Promise<void> {
  await Promise.all(
    tenants.map(async (t) => {
      const fleet = await t.keyStore.readiness(callContextWithin(WARM_UP_BUDGET_MS));
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
  for (const f of exposedSecretFiles(config, loaded.configDir)) logger.warn({ field: f.field, mode: f.mode }, exposedSecretMessage(f));
  if (config.server.tls === undefined) {
    logger.warn('serving plain HTTP: AWS KMS only connects over HTTPS; put TLS on this listener or in front of it');
  }
  for (const ks of config.keyStores) {
    if (ks.credentials.some((c) => !isSecretRef(c.secretAccessKey))) {
      logger.warn({ prefix: ks.prefix }, 'a SigV4 secret is written inline in the config file; prefer env:NAME or file:PATH');
    }
  }
}
