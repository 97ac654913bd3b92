import type { PoolStats } from '../../xks/key-provider-port.ts';
import type { RequestEvent } from '../../xks/request-event.ts';
import type { TenantDirectory } from '../../xks/tenants.ts';
import type { ProxyConfig } from '../../config/schema.ts';
import { credentialAgeDays } from '../credential-age.ts';
import type { PolicyDecision } from '../policy/evaluate-policy.ts';
import { EventLoopDelayMonitor } from './event-loop-delay.ts';
import { GcPauseMonitor } from './gc-pauses.ts';
import { MetricRegistry, type Counter } from './prometheus-text.ts';

/** Where the metrics read the proxy's current state at scrape time. */
export interface ProxyMetricsSources {
  tenants: TenantDirectory;
  /** The config in force (changes on reload). */
  config: () => ProxyConfig;
  /** Expiry of the certificate the listener serves, when it serves TLS. */
  certificateNotAfter?: Date | undefined;
  /** Requests being handled now. */
  inFlight: () => number;
  /** Session pools per key store prefix and token, for providers that have them. */
  pools: () => Array<{ prefix: string; token: string; stats: PoolStats }>;
  now?: () => Date;
}

/**
 * Latency buckets in seconds. KMS gives a call 250 ms end to end, so the resolution is
 * finest below that and the top buckets show calls that KMS will already have abandoned.
 */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2.5];

// GC pauses: a healthy young-generation pause is well under a millisecond.
const GC_PAUSE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

/**
 * kmsOperation values KMS sends today; anything else is counted as "other" so that a
 * caller cannot create unbounded label values (the spec says unknown values MUST be
 * accepted, not that they must get their own time series).
 */
const KNOWN_KMS_OPERATIONS = new Set([
  'CreateKey',
  'Decrypt',
  'DescribeKey',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateMac',
  'KmsHealthCheck',
  'ReEncrypt',
  'VerifyMac',
  'CreateCustomKeyStore',
  'ConnectCustomKeyStore',
  'UpdateCustomKeyStore',
]);

const EKM_STATES = ['ACTIVE', 'DEGRADED', 'UNAVAILABLE'] as const;
const SCRAPE_HEALTH_BUDGET_MS = 2000;
const DAY_S = 86_400;

/**
 * The proxy's metrics, named after the CloudWatch metrics KMS publishes for external key
 * stores (XksProxyLatency -> xks_proxy_latency_seconds, XksProxyErrors ->
 * xks_proxy_errors_total, XksExternalKeyManagerStates -> xks_external_key_manager_states,
 * XksProxyCertificateDaysToExpire -> xks_proxy_certificate_time_to_expire_seconds,
 * XksProxyCredentialAge -> xks_proxy_credential_age_seconds) in Prometheus' snake_case with
 * base-unit suffixes, so a dashboard can put the proxy's view next to KMS's.
 */
export class ProxyMetrics {
  readonly registry = new MetricRegistry();
  readonly reloads: Counter;
  readonly auditWriteErrors: Counter;
  /** Connections the listener refused, by the limit that refused them (server.limits). */
  readonly connectionsRefused: Counter;
  readonly #requests;
  readonly #latency;
  readonly #errors;
  readonly #denials;
  readonly #eventLoop = new EventLoopDelayMonitor();
  readonly #gcPauses: GcPauseMonitor;
  readonly #sources: ProxyMetricsSources;

  constructor(sources: ProxyMetricsSources) {
    this.#sources = sources;
    const r = this.registry;
    this.#requests = r.counter('xks_proxy_requests_total', 'XKS API requests answered, by key store prefix, XKS operation, kmsOperation and outcome.', [
      'prefix',
      'operation',
      'kms_operation',
      'outcome',
    ]);
    this.#latency = r.histogram(
      'xks_proxy_latency_seconds',
      'Time from request arrival to response, like the XksProxyLatency CloudWatch metric.',
      ['prefix', 'operation', 'kms_operation'],
      LATENCY_BUCKETS,
    );
    this.#errors = r.counter('xks_proxy_errors_total', 'XKS API error responses by errorName, like the XksProxyErrors CloudWatch metric.', [
      'prefix',
      'operation',
      'kms_operation',
      'error_name',
    ]);
    this.#denials = r.counter('xks_proxy_policy_denials_total', 'Requests the secondary authorization policy denied (dry_run="true": would have denied).', [
      'prefix',
      'rule',
      'dry_run',
    ]);
    this.reloads = r.counter('xks_proxy_config_reloads_total', 'Configuration reloads by result (applied or rejected).', ['result']);
    this.auditWriteErrors = r.counter('xks_proxy_audit_write_errors_total', 'Audit log lines that could not be written.');
    this.connectionsRefused = r.counter(
      'xks_proxy_connections_refused_total',
      'Connections the XKS listener closed on arrival because a server.limits limit was reached.',
      ['limit'],
    );

    const inFlight = r.gauge('xks_proxy_in_flight_requests', 'XKS API requests being handled now.');
    const ekm = r.gauge(
      'xks_external_key_manager_states',
      'External key managers per key store in each health state (deep health), like XksExternalKeyManagerStates.',
      ['prefix', 'state'],
    );
    const ekmUp = r.gauge('xks_external_key_manager_up', 'One external key manager instance: 1 when ACTIVE or DEGRADED, 0 when UNAVAILABLE.', [
      'prefix',
      'ekm_id',
    ]);
    // Seconds, the Prometheus base unit (promtool's lint insists); divide by 86400 for the
    // days KMS reports in CloudWatch.
    const certExpiry = r.gauge(
      'xks_proxy_certificate_time_to_expire_seconds',
      'Time until the TLS server certificate expires, like XksProxyCertificateDaysToExpire (divide by 86400 for days).',
    );
    const credAge = r.gauge(
      'xks_proxy_credential_age_seconds',
      'Time since each SigV4 credential was created (its createdAt), like XksProxyCredentialAge (divide by 86400 for days).',
      ['prefix', 'access_key_id'],
    );
    const credentials = r.gauge('xks_proxy_credentials', 'SigV4 credentials accepted per key store.', ['prefix']);
    const gcPause = r.histogram(
      'xks_proxy_gc_pause_seconds',
      'Garbage-collection pauses of this process by collector (minor: young generation).',
      ['kind'],
      GC_PAUSE_BUCKETS,
    );
    this.#gcPauses = new GcPauseMonitor((kind, seconds) => gcPause.observe({ kind }, seconds));
    const loop = r.gauge('xks_proxy_event_loop_delay_seconds', 'Event-loop delay since the previous scrape (perf_hooks monitorEventLoopDelay).', ['stat']);
    const pool = r.gauge('xks_proxy_hsm_sessions', 'PKCS#11 session pool use per token.', ['prefix', 'token', 'state']);
    const poolSize = r.gauge('xks_proxy_hsm_session_pool_size', 'Configured PKCS#11 sessions per token.', ['prefix', 'token']);
    const poolDiscarded = r.gauge('xks_proxy_hsm_sessions_discarded', 'PKCS#11 sessions closed after a failure, since start.', ['prefix', 'token']);
    const started = r.gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch in seconds.');
    const rss = r.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
    const startSeconds = Math.round(Date.now() / 1000 - process.uptime());

    r.collect(() => {
      inFlight.set({}, sources.inFlight());
      started.set({}, startSeconds);
      rss.set({}, process.memoryUsage.rss());
      const d = this.#eventLoop.read();
      loop.set({ stat: 'p50' }, d.p50);
      loop.set({ stat: 'p99' }, d.p99);
      loop.set({ stat: 'max' }, d.max);
      loop.set({ stat: 'mean' }, d.mean);
    });
    r.collect(() => {
      const now = (sources.now ?? (() => new Date()))();
      certExpiry.clear();
      if (sources.certificateNotAfter !== undefined) certExpiry.set({}, (sources.certificateNotAfter.getTime() - now.getTime()) / 1000);
      credAge.clear();
      credentials.clear();
      for (const ks of sources.config().keyStores) {
        credentials.set({ prefix: ks.prefix }, ks.credentials.length);
        for (const c of ks.credentials) {
          const age = credentialAgeDays(c.createdAt, now);
          if (age !== undefined) credAge.set({ prefix: ks.prefix, access_key_id: c.accessKeyId }, age * DAY_S);
        }
      }
    });
    r.collect(async () => {
      // The key stores' cached deep health (the same cache GetHealthStatus and /ready use),
      // so a scrape does not add canary operations on the key manager.
      const results = await Promise.all(
        sources.tenants.all().map(async (t) => ({
          prefix: t.prefix,
          fleet: await t.keyStore
            .readiness({ deadline: Date.now() + SCRAPE_HEALTH_BUDGET_MS, signal: AbortSignal.timeout(SCRAPE_HEALTH_BUDGET_MS) })
            .catch(() => []),
        })),
      );
      ekm.clear();
      ekmUp.clear();
      for (const { prefix, fleet } of results) {
        for (const state of EKM_STATES) ekm.set({ prefix, state }, fleet.filter((e) => e.healthStatus === state).length);
        for (const e of fleet) ekmUp.set({ prefix, ekm_id: e.id }, e.healthStatus === 'UNAVAILABLE' ? 0 : 1);
      }
    });
    r.collect(() => {
      pool.clear();
      poolSize.clear();
      poolDiscarded.clear();
      for (const { prefix, token, stats } of sources.pools()) {
        poolSize.set({ prefix, token }, stats.size);
        poolDiscarded.set({ prefix, token }, stats.discarded);
        pool.set({ prefix, token, state: 'idle' }, stats.idle);
        pool.set({ prefix, token, state: 'busy' }, stats.busy);
        pool.set({ prefix, token, state: 'waiting' }, stats.waiting);
      }
    });
  }

  /** Request observer (AppDeps.observers): counts the request and its latency. */
  readonly observe = (event: RequestEvent): void => {
    // Only configured prefixes become label values; an unknown one is whatever the caller
    // typed into the URL.
    const prefix = event.prefix === undefined ? '' : this.#sources.tenants.get(event.prefix) !== undefined ? event.prefix : '(unknown)';
    const operation = event.operation ?? 'none';
    const kmsOperation = event.kmsOperation === undefined ? '' : KNOWN_KMS_OPERATIONS.has(event.kmsOperation) ? event.kmsOperation : 'other';
    this.#requests.inc({ prefix, operation, kms_operation: kmsOperation, outcome: event.outcome });
    this.#latency.observe({ prefix, operation, kms_operation: kmsOperation }, event.latencyMs / 1000);
    if (event.outcome === 'error') {
      this.#errors.inc({ prefix, operation, kms_operation: kmsOperation, error_name: event.errorName ?? 'InternalException' });
    }
  };

  /** Reports the XKS listener's open connections at each scrape (xks_proxy_open_connections). */
  watchConnections(count: () => Promise<number>): void {
    const open = this.registry.gauge('xks_proxy_open_connections', 'Connections open on the XKS listener (server.limits.maxConnections caps them).');
    this.registry.collect(async () => {
      open.set({}, await count().catch(() => 0));
    });
  }

  /** Policy denial listener (enforced or dry run). */
  readonly onDenial = (prefix: string, decision: PolicyDecision, dryRun: boolean): void => {
    this.#denials.inc({ prefix, rule: decision.rule ?? '(default)', dry_run: String(dryRun) });
  };

  /** The text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.render();
  }

  /** Stops the event-loop sampler and the GC observer. */
  stop(): void {
    this.#eventLoop.stop();
    this.#gcPauses.stop();
  }
}
