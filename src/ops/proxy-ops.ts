import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load-config.ts';
import type { KeyStoreConfig, ProxyConfig } from '../config/schema.ts';
import { resolveSecretRef } from '../config-values/secret-ref.ts';
import type { RequestEvent } from '../xks/request-event.ts';
import { TenantDirectory, type Tenant } from '../xks/tenants.ts';
import type { KeyStore } from '../xks/key-store.ts';
import { auditKey } from './audit/audit-chain.ts';
import { AuditLog } from './audit/audit-log.ts';
import { InFlightRequests, trackInFlight, type FetchApp } from './in-flight.ts';
import { startMetricsServer, type MetricsServer } from './metrics/metrics-server.ts';
import { ProxyMetrics } from './metrics/proxy-metrics.ts';
import { createPolicyAuthorizer } from './policy/policy-authorizer.ts';
import { rateLimitAdmission, TokenBucket, workerShare, type RateLimitConfig } from './rate-limit.ts';
import { reconcileTenants, type ReconcileDeps } from './reconcile-tenants.ts';
import { credentialSentence, settingChanges } from './reload-changes.ts';
import { perWorkerFile, perWorkerPort, workerCount, workerSlot } from './worker-slot.ts';

/** Config sections a reload cannot change (they shape listeners and files opened at start). */
const RESTART_ONLY: ReadonlyArray<keyof ProxyConfig> = ['server', 'metrics', 'admin', 'audit', 'reload'];

/** Reads the expiry of the first certificate of a PEM chain (the leaf the listener serves). */
function certificateNotAfter(config: ProxyConfig, configDir: string, logger: Logger): Date | undefined {
  const cert = config.server.tls?.cert;
  if (cert === undefined) return undefined;
  try {
    return new Date(new X509Certificate(readFileSync(resolve(configDir, cert))).validTo);
  } catch (e) {
    logger.warn({ cert, err: (e as Error).message }, 'cannot read the TLS certificate expiry for metrics');
    return undefined;
  }
}

/**
 * The operational layer around the app: request counting for shutdown and reload, rate
 * limits, access policy, metrics and the audit log, and applying a reloaded config. The
 * app only sees its hooks (`admit`, `Tenant.admit/authorize`, `observers`).
 */
export class ProxyOps {
  readonly inFlight = new InFlightRequests();
  readonly tenants = new TenantDirectory([]);
  readonly metrics: ProxyMetrics;
  readonly #logger: Logger;
  #loaded: LoadedConfig;
  #audit: AuditLog | undefined;
  #metricsServer: MetricsServer | undefined;
  #globalAdmit: (() => void) | undefined;
  readonly #retiring = new Set<Promise<void>>();

  private constructor(loaded: LoadedConfig, logger: Logger) {
    this.#loaded = loaded;
    this.#logger = logger;
    this.metrics = new ProxyMetrics({
      tenants: this.tenants,
      config: () => this.#loaded.config,
      certificateNotAfter: certificateNotAfter(loaded.config, loaded.configDir, logger),
      inFlight: () => this.inFlight.count,
      pools: () => this.tenants.all().flatMap((t) => [...(t.keyStore.stats?.().pools ?? [])].map(([token, stats]) => ({ prefix: t.prefix, token, stats }))),
    });
    this.#applySettings(loaded.config);
  }

  /** Creates the layer for a loaded config; opens the audit log when one is configured. */
  static async create(loaded: LoadedConfig, logger: Logger): Promise<ProxyOps> {
    const ops = new ProxyOps(loaded, logger);
    const audit = loaded.config.audit;
    if (audit !== undefined) {
      ops.#audit = await AuditLog.open(perWorkerFile(resolve(loaded.configDir, audit.file), workerSlot()), {
        logger,
        key: audit.hmacKey === undefined ? undefined : auditKey(resolveSecretRef(audit.hmacKey, 'audit.hmacKey', process.env, loaded.configDir)),
        onWriteError: () => ops.metrics.auditWriteErrors.inc(),
      });
      logger.info({ auditFile: ops.#audit.file, nextSeq: ops.#audit.head.seq }, 'audit log open');
    }
    return ops;
  }

  /** The config in force. */
  get loaded(): LoadedConfig {
    return this.#loaded;
  }

  /** Request observers for the app: metrics, then the audit log. */
  get observers(): Array<(event: RequestEvent) => void> {
    return this.#audit === undefined ? [this.metrics.observe] : [this.metrics.observe, this.#audit.observe];
  }

  /** Where metrics are served, once started. */
  get metricsUrl(): string | undefined {
    return this.#metricsServer?.url;
  }

  /** AppDeps.admit: the proxy-wide limit (replaced on reload). */
  readonly admit = (_prefix: string): void => {
    this.#globalAdmit?.();
  };

  /** Adds the key store's rate limit and policy to a tenant. */
  decorate(tenant: Tenant, ks: KeyStoreConfig): Tenant {
    const decorated: Tenant = { ...tenant };
    if (ks.rateLimit !== undefined) decorated.admit = rateLimitAdmission(this.#bucket(ks.rateLimit), `prefix "${ks.prefix}"`);
    if (ks.policy !== undefined) {
      decorated.authorize = createPolicyAuthorizer(ks.policy, { prefix: ks.prefix, logger: this.#logger, onDenial: this.metrics.onDenial });
    }
    return decorated;
  }

  /** Wraps the app so requests are counted (shutdown drain, reload retirement). */
  wrap(app: FetchApp): FetchApp {
    return trackInFlight(app, this.inFlight);
  }

  /** Opens the metrics listener when configured. */
  async startMetrics(): Promise<void> {
    const m = this.#loaded.config.metrics;
    if (m === undefined) return;
    const slot = workerSlot();
    this.#metricsServer = await startMetricsServer(() => this.metrics.render(), {
      ...m,
      port: perWorkerPort(m.port, slot),
      exclusive: slot !== undefined,
      logger: this.#logger,
    });
  }

  /**
   * Applies a reloaded config: tenants (credentials, new and changed key stores, limits,
   * policies), the proxy-wide limit and the log level. Throws before changing anything
   * when the config cannot be applied.
   */
  async applyConfig(next: LoadedConfig, deps: Omit<ReconcileDeps, 'decorate' | 'logger'>): Promise<Record<string, unknown>> {
    const previous = this.#loaded.config;
    const { changes, retired } = await reconcileTenants(this.tenants, previous, next, {
      ...deps,
      decorate: (t, ks) => this.decorate(t, ks),
      logger: this.#logger,
    });
    this.#loaded = next;
    this.#applySettings(next.config);
    const needRestart = RESTART_ONLY.filter((k) => JSON.stringify(previous[k]) !== JSON.stringify(next.config[k]));
    if (needRestart.length > 0) {
      this.#logger.warn({ sections: needRestart }, 'config sections changed that only take effect after a restart');
    }
    if (retired.length > 0) this.#retire(retired);
    await this.#audit?.reopen();
    // One sentence per change, so the `config reloaded` line says what the reload did.
    const changed = [
      ...changes.added.map((p) => `key store ${JSON.stringify(p)} added`),
      ...changes.removed.map((p) => `key store ${JSON.stringify(p)} removed`),
      ...changes.rebuilt.map((p) => `key store ${JSON.stringify(p)} rebuilt (${(changes.rebuiltBecause[p] ?? []).join(', ')} changed)`),
      ...changes.credentials.map(credentialSentence),
      ...settingChanges(previous, next.config),
      ...needRestart.map((k) => `${k} changed: takes effect only after a restart`),
    ];
    const { rebuiltBecause: _because, ...lists } = changes;
    return { changed: changed.length > 0 ? changed : ['nothing changed'], ...lists, restartNeededFor: needRestart };
  }

  /** Flushes the audit log, closes the metrics listener and waits for retired key stores. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#retiring]);
    await this.#audit?.close();
    await this.#metricsServer?.close();
    this.metrics.stop();
  }

  /** This process's bucket for a configured limit: its share when it is one of N workers. */
  #bucket(limit: RateLimitConfig): TokenBucket {
    return new TokenBucket(workerShare(limit, workerSlot() ?? 0, workerCount()));
  }

  #applySettings(config: ProxyConfig): void {
    this.#globalAdmit = config.rateLimit === undefined ? undefined : rateLimitAdmission(this.#bucket(config.rateLimit), 'proxy-wide');
    if (this.#logger.level !== config.logging.level) this.#logger.level = config.logging.level;
  }

  /** Closes key stores a reload replaced, once the requests that may use them ended. */
  #retire(stores: KeyStore[]): void {
    const done = this.inFlight
      .settled()
      .then(() => Promise.allSettled(stores.map((s) => s.close())))
      .then(() => this.#logger.info({ prefixes: stores.map((s) => s.prefix) }, 'retired key stores closed'));
    this.#retiring.add(done);
    void done.finally(() => this.#retiring.delete(done));
  }
}
