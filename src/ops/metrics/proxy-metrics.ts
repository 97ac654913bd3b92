import { callContextWithin } from '../../xks/call-context.ts';
import type { PoolStats } from '../../xks/key-provider-port.ts';
import type { RequestEvent } from '../../xks/request-event.ts';
import type { TenantDirectory } from '../../xks/tenants.ts';
import type { ProxyConfig } from '../../config/schema.ts';
import { credentialAgeDays } from '../credential-age.ts';
import type { PolicyDecision } from '../policy/evaluate-policy.ts';
import { EventLoopDelayMonitor } from './event-loop-delay.ts';
import { GcPauseMonitor } from './gc-pauses.ts';
import { MetricRegistry, type Collector, type Counter, type CounterSeries, type HistogramSeries } from './prometheus-text.ts';

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
  /**
   * The request counter's and latency histogram's series per label set, so a request adds
   * to them without building three label objects and series keys. Bounded: every label
   * is one of a fixed few values (configured prefixes, operations, known kmsOperations),
   * none of which can hold the separator (prefixes are a-zA-Z0-9/_-, config/schema.ts).
   */
  readonly #requestSeries = new Map<string, { requests: CounterSeries; latency: HistogramSeries }>();

  constructor(sources: ProxyMetricsSources) {
    this.#sources = sources;
    const events = registerEventMetrics(this.registry);
    this.#requests = events.requests;
    this.#latency = events.latency;
    this.#errors = events.errors;
    this.#denials = events.denials;
    this.reloads = events.reloads;
    this.auditWriteErrors = events.auditWriteErrors;
    this.connectionsRefused = events.connectionsRefused;
    const state = registerStateMetrics(this.registry);
    this.#gcPauses = new GcPauseMonitor((kind, seconds) => state.gcPause.observe({ kind }, seconds));
    this.registry.collect(processCollector(state, sources, this.#eventLoop));
    this.registry.collect(credentialCollector(state, sources));
    this.registry.collect(keyManagerCollector(state, sources));
    this.registry.collect(sessionPoolCollector(state, sources));
  }

  /** Request observer (AppDeps.observers): counts the request and its latency. */
  readonly observe = (event: RequestEvent): void => {
    // Only configured prefixes become label values; an unknown one is whatever the caller
    // typed into the URL.
    const prefix = event.prefix === undefined ? '' : this.#sources.tenants.get(event.prefix) !== undefined ? event.prefix : '(unknown)';
    const operation = event.operation ?? 'none';
    const kmsOperation = event.kmsOperation === undefined ? '' : KNOWN_KMS_OPERATIONS.has(event.kmsOperation) ? event.kmsOperation : 'other';
    const key = `${prefix}\u0000${operation}\u0000${kmsOperation}\u0000${event.outcome}`;
    let series = this.#requestSeries.get(key);
    if (series === undefined) {
      series = {
        requests: this.#requests.handle({ prefix, operation, kms_operation: kmsOperation, outcome: event.outcome }),
        latency: this.#latency.handle({ prefix, operation, kms_operation: kmsOperation }),
      };
      this.#requestSeries.set(key, series);
    }
    series.requests.value += 1;
    series.latency.observe(event.latencyMs / 1000);
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

/**
 * The counters and histograms that requests, policy decisions, reloads, audit writes and
 * the listener update as they happen. The registry renders families in the order they are
 * registered: these come first.
 */
function registerEventMetrics(r: MetricRegistry) {
  return {
    requests: r.counter('xks_proxy_requests_total', 'XKS API requests answered, by key store prefix, XKS operation, kmsOperation and outcome.', [
      'prefix',
      'operation',
      'kms_operation',
      'outcome',
    ]),
    latency: r.histogram(
      'xks_proxy_latency_seconds',
      'Time from request arrival to response, like the XksProxyLatency CloudWatch metric.',
      ['prefix', 'operation', 'kms_operation'],
      LATENCY_BUCKETS,
    ),
    errors: r.counter('xks_proxy_errors_total', 'XKS API error responses by errorName, like the XksProxyErrors CloudWatch metric.', [
      'prefix',
      'operation',
      'kms_operation',
      'error_name',
    ]),
    denials: r.counter('xks_proxy_policy_denials_total', 'Requests the secondary authorization policy denied (dry_run="true": would have denied).', [
      'prefix',
      'rule',
      'dry_run',
    ]),
    reloads: r.counter('xks_proxy_config_reloads_total', 'Configuration reloads by result (applied or rejected).', ['result']),
    auditWriteErrors: r.counter('xks_proxy_audit_write_errors_total', 'Audit log lines that could not be written.'),
    connectionsRefused: r.counter(
      'xks_proxy_connections_refused_total',
      'Connections the XKS listener closed on arrival because a server.limits limit was reached.',
      ['limit'],
    ),
  };
}

/**
 * The gauges the collectors below set at scrape time, and the GC pause histogram, in
 * the order they have always been rendered (after the event metrics).
 */
function registerStateMetrics(r: MetricRegistry) {
  return {
    inFlight: r.gauge('xks_proxy_in_flight_requests', 'XKS API requests being handled now.'),
    ekm: r.gauge(
      'xks_external_key_manager_states',
      'External key managers per key store in each health state (deep health), like XksExternalKeyManagerStates.',
      ['prefix', 'state'],
    ),
    ekmUp: r.gauge('xks_external_key_manager_up', 'One external key manager instance: 1 when ACTIVE or DEGRADED, 0 when UNAVAILABLE.', ['prefix', 'ekm_id']),
    // Seconds, the Prometheus base unit (promtool's lint insists); divide by 86400 for the
    // days KMS reports in CloudWatch.
    certExpiry: r.gauge(
      'xks_proxy_certificate_time_to_expire_seconds',
      'Time until the TLS server certificate expires, like XksProxyCertificateDaysToExpire (divide by 86400 for days).',
    ),
    credAge: r.gauge(
      'xks_proxy_credential_age_seconds',
      'Time since each SigV4 credential was created (its createdAt), like XksProxyCredentialAge (divide by 86400 for days).',
      ['prefix', 'access_key_id'],
    ),
    credentials: r.gauge('xks_proxy_credentials', 'SigV4 credentials accepted per key store.', ['prefix']),
    gcPause: r.histogram(
      'xks_proxy_gc_pause_seconds',
      'Garbage-collection pauses of this process by collector (minor: young generation).',
      ['kind'],
      GC_PAUSE_BUCKETS,
    ),
    loop: r.gauge('xks_proxy_event_loop_delay_seconds', 'Event-loop delay since the previous scrape (perf_hooks monitorEventLoopDelay).', ['stat']),
    pool: r.gauge('xks_proxy_hsm_sessions', 'PKCS#11 session pool use per token.', ['prefix', 'token', 'state']),
    poolSize: r.gauge('xks_proxy_hsm_session_pool_size', 'Configured PKCS#11 sessions per token.', ['prefix', 'token']),
    poolDiscarded: r.gauge('xks_proxy_hsm_sessions_discarded', 'PKCS#11 sessions closed after a failure, since start.', ['prefix', 'token']),
    started: r.gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch in seconds.'),
    rss: r.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.'),
  };
}

type StateMetrics = ReturnType<typeof registerStateMetrics>;

/** Requests in flight, the process's start time and memory, and the event-loop delay. */
function processCollector(m: StateMetrics, sources: ProxyMetricsSources, eventLoop: EventLoopDelayMonitor): Collector {
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  return () => {
    m.inFlight.set({}, sources.inFlight());
    m.started.set({}, startSeconds);
    m.rss.set({}, process.memoryUsage.rss());
    const d = eventLoop.read();
    m.loop.set({ stat: 'p50' }, d.p50);
    m.loop.set({ stat: 'p99' }, d.p99);
    m.loop.set({ stat: 'max' }, d.max);
    m.loop.set({ stat: 'mean' }, d.mean);
  };
}

/** The TLS certificate's time to expiry and each SigV4 credential's age, from the config in force. */
function credentialCollector(m: StateMetrics, sources: ProxyMetricsSources): Collector {
  return () => {
    const now = (sources.now ?? (() => new Date()))();
    m.certExpiry.clear();
    if (sources.certificateNotAfter !== undefined) m.certExpiry.set({}, (sources.certificateNotAfter.getTime() - now.getTime()) / 1000);
    m.credAge.clear();
    m.credentials.clear();
    for (const ks of sources.config().keyStores) {
      m.credentials.set({ prefix: ks.prefix }, ks.credentials.length);
      for (const c of ks.credentials) {
        const age = credentialAgeDays(c.createdAt, now);
        if (age !== undefined) m.credAge.set({ prefix: ks.prefix, access_key_id: c.accessKeyId }, age * DAY_S);
      }
    }
  };
}

/** Each key store's external key managers by health state. */
function keyManagerCollector(m: StateMetrics, sources: ProxyMetricsSources): Collector {
  return async () => {
    // The key stores' cached deep health (the same cache GetHealthStatus and /ready use),
    // so a scrape does not add canary operations on the key manager.
    const results = await Promise.all(
      sources.tenants.all().map(async (t) => ({
        prefix: t.prefix,
        fleet: await t.keyStore.readiness(callContextWithin(SCRAPE_HEALTH_BUDGET_MS)).catch(() => []),
      })),
    );
    m.ekm.clear();
    m.ekmUp.clear();
    for (const { prefix, fleet } of results) {
      for (const state of EKM_STATES) m.ekm.set({ prefix, state }, fleet.filter((e) => e.healthStatus === state).length);
      for (const e of fleet) m.ekmUp.set({ prefix, ekm_id: e.id }, e.healthStatus === 'UNAVAILABLE' ? 0 : 1);
    }
  };
}

/** PKCS#11 session pool use per token, for the providers that pool sessions. */
function sessionPoolCollector(m: StateMetrics, sources: ProxyMetricsSources): Collector {
  return () => {
    m.pool.clear();
    m.poolSize.clear();
    m.poolDiscarded.clear();
    for (const { prefix, token, stats } of sources.pools()) {
      m.poolSize.set({ prefix, token }, stats.size);
      m.poolDiscarded.set({ prefix, token }, stats.discarded);
      m.pool.set({ prefix, token, state: 'idle' }, stats.idle);
      m.pool.set({ prefix, token, state: 'busy' }, stats.busy);
      m.pool.set({ prefix, token, state: 'waiting' }, stats.waiting);
    }
  };
}
