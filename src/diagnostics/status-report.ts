import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ProxyConfig } from '../config/schema.ts';
import { callContextWithin } from '../xks/call-context.ts';
import type { EkmHealthStatus } from '../xks/key-provider-port.ts';
import type { StatusTracker } from '../server/status-tracker.ts';
import type { Tenant } from '../xks/tenants.ts';
import { PROXY_VERSION } from '../server/version.ts';
import { errorText } from './check-result.ts';
import { splitPem } from './tls-config-check.ts';

/** One key store in the status view. */
export interface KeyStoreStatus {
  prefix: string;
  uriPath: string;
  region: string;
  /** One sentence: did KMS reach this key store, and what happened. */
  verdict: string;
  requests: { ok: number; error: number };
  lastRequestAt: string | null;
  lastSuccessAt: string | null;
  lastHealthCheck: { at: string; status: number; latencyMs: number; kmsOperation?: string; errorName?: string; reason?: string; kmsRequestId?: string } | null;
  errors: Array<{ errorName: string; count: number; lastAt: string; status: number; operation?: string; reason?: string; kmsRequestId?: string }>;
  credentials: Array<{ accessKeyId: string; createdAt?: string; ageDays?: number; lastUsedAt: string | null; requests: number }>;
  ekmFleet: Array<{ id: string; model: string; healthStatus: EkmHealthStatus; detail?: string }>;
}

/** The whole status view (GET /status and `xks-proxy status`). */
export interface StatusReport {
  generatedAt: string;
  startedAt: string;
  uptimeSeconds: number;
  version: string;
  certificate: { file: string; subject?: string; notAfter?: string; daysLeft?: number; error?: string } | null;
  keyStores: KeyStoreStatus[];
  unknownPrefixes: Array<{ prefix: string; count: number; lastAt: string }>;
  otherPaths: { count: number; lastAt: string | null; lastReason?: string };
  /**
   * Under `serve --workers N`, read from the admin listener: the workers this view adds up
   * (each counts its own requests; the totals above are their sums).
   */
  workers?: Array<{ worker: number; pid?: number; requests?: number; error?: string }>;
  /**
   * Configured rate limits, for the whole proxy (all workers together: each of N workers
   * admits its share, src/ops/rate-limit.ts workerShare). Absent when none is configured.
   */
  rateLimits?: Array<{ scope: string; requestsPerSecond: number; burst: number }>;
}

/** What the status view reads besides the tracker. */
export interface StatusSources {
  /** The config in force now (a getter, so a reloaded config shows: credential dates, certificate file). */
  current: () => { config: ProxyConfig; configDir: string };
  /** Budget for a provider health check when none is cached. */
  healthBudgetMs?: number;
  now?: () => Date;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** Builds the status view: tracker activity, provider fleet states, credential ages and certificate expiry. */
export async function renderStatus(tracker: StatusTracker, tenants: readonly Tenant[], sources: StatusSources): Promise<StatusReport> {
  const now = (sources.now ?? (() => new Date()))();
  const budget = sources.healthBudgetMs ?? 2000;
  const unrouted = tracker.unrouted();
  const { config, configDir } = sources.current();
  const keyStores = await Promise.all(tenants.map((t) => keyStoreStatus(tracker, t, config, now, budget)));
  return {
    generatedAt: now.toISOString(),
    startedAt: new Date(tracker.startedAt).toISOString(),
    uptimeSeconds: Math.round((now.getTime() - tracker.startedAt) / 1000),
    version: PROXY_VERSION,
    certificate: certificateStatus(config, configDir, now),
    keyStores,
    ...rateLimitsOf(config),
    unknownPrefixes: [...unrouted.unknownPrefixes].map(([prefix, u]) => ({ prefix, count: u.count, lastAt: iso(u.lastAt)! })),
    otherPaths: {
      count: unrouted.otherPaths.count,
      lastAt: iso(unrouted.otherPaths.lastAt),
      ...(unrouted.otherPaths.lastReason !== undefined ? { lastReason: unrouted.otherPaths.lastReason } : {}),
    },
  };
}

async function keyStoreStatus(tracker: StatusTracker, tenant: Tenant, config: ProxyConfig, now: Date, budgetMs: number): Promise<KeyStoreStatus> {
  const activity = tracker.activity(tenant.prefix);
  const configured = config.keyStores.find((k) => k.prefix === tenant.prefix);
  let ekmFleet: KeyStoreStatus['ekmFleet'];
  try {
    // Cached deep health (shared with GetHealthStatus), so viewing status adds no canary load.
    ekmFleet = (await tenant.keyStore.readiness(callContextWithin(budgetMs))).map((e) => ({
      id: e.id,
      model: e.model,
      healthStatus: e.healthStatus,
      ...(e.detail !== undefined ? { detail: e.detail } : {}),
    }));
  } catch (e) {
    ekmFleet = [{ id: 'provider', model: 'provider', healthStatus: 'UNAVAILABLE', detail: errorText(e) }];
  }
  const credentials = tenant.credentials.accessKeyIds().map((id) => {
    const createdAt = configured?.credentials.find((c) => c.accessKeyId === id)?.createdAt;
    const created = createdAt === undefined ? NaN : Date.parse(createdAt);
    const use = activity.credentials.get(id);
    return {
      accessKeyId: id,
      ...(createdAt !== undefined ? { createdAt } : {}),
      ...(!Number.isNaN(created) ? { ageDays: Math.floor((now.getTime() - created) / 86_400_000) } : {}),
      lastUsedAt: iso(use?.lastUsedAt),
      requests: use?.requests ?? 0,
    };
  });
  const health = activity.lastHealthCall;
  const status: KeyStoreStatus = {
    prefix: tenant.prefix,
    uriPath: tenant.prefix === '' ? '/kms/xks/v1' : `/${tenant.prefix}/kms/xks/v1`,
    region: tenant.region,
    verdict: '',
    requests: { ...activity.requests },
    lastRequestAt: iso(activity.lastRequestAt),
    lastSuccessAt: iso(activity.lastSuccessAt),
    lastHealthCheck: health === undefined ? null : { ...health, at: iso(health.at)! },
    errors: [...activity.errors.values()].sort((a, b) => b.lastAt - a.lastAt).map((e) => ({ ...e, lastAt: iso(e.lastAt)! })),
    credentials,
    ekmFleet,
  };
  status.verdict = verdictOf(status, tracker.startedAt, [...tracker.unrouted().unknownPrefixes.keys()], now);
  return status;
}

/** The sentence that separates "KMS never reached us" from "KMS reached us and we refused". */
export function verdictOf(s: KeyStoreStatus, startedAt: number, unknown: readonly string[], now: Date): string {
  const wrongPath =
    unknown.length > 0
      ? ` Requests did arrive for unconfigured prefixes (${unknown
          .slice(0, 3)
          .map((p) => JSON.stringify(p))
          .join(', ')}): check XksProxyUriPath in KMS.`
      : '';
  if (s.ekmFleet.length > 0 && s.ekmFleet.every((e) => e.healthStatus === 'UNAVAILABLE')) {
    return `Every key manager is UNAVAILABLE, so GetHealthStatus tells KMS this key store cannot work (KMS shows XKS_PROXY_NOT_REACHABLE).${wrongPath}`;
  }
  if (s.requests.ok + s.requests.error === 0) {
    return `No request has reached this key store since ${new Date(startedAt).toISOString()}: if KMS shows a connection error, KMS is not getting here (DNS, load balancer or VPC endpoint service, firewall, TLS); run xks-proxy doctor --endpoint.${wrongPath}`;
  }
  const h = s.lastHealthCheck;
  if (h !== null && h.status !== 200) {
    return `KMS reaches this proxy but the last GetHealthStatus (${h.at}) was refused with ${h.errorName ?? `HTTP ${h.status}`}${h.reason ? ` (${h.reason})` : ''}.`;
  }
  if (h === null) {
    return `Requests arrive but no GetHealthStatus yet; KMS sends one when the key store connects and every few minutes after.${wrongPath}`;
  }
  const minutes = Math.round((now.getTime() - Date.parse(h.at)) / 60_000);
  return `KMS reaches this key store; the last GetHealthStatus (${minutes} min ago) succeeded.${wrongPath}`;
}

function certificateStatus(config: ProxyConfig, configDir: string, now: Date): StatusReport['certificate'] {
  const certPath = config.server.tls?.cert;
  if (certPath === undefined) return null;
  const file = resolve(configDir, certPath);
  try {
    const pem = splitPem(readFileSync(file, 'utf8'))[0];
    if (pem === undefined) return { file, error: 'no PEM certificate in the file' };
    const leaf = new X509Certificate(pem);
    return {
      file,
      subject: leaf.subject.replace(/\n/g, ', '),
      notAfter: new Date(leaf.validTo).toISOString(),
      daysLeft: Math.floor((Date.parse(leaf.validTo) - now.getTime()) / 86_400_000),
    };
  } catch (e) {
    return { file, error: errorText(e) };
  }
}

/** The configured limits as totals (never one worker's share), so every worker reports the same. */
function rateLimitsOf(config: ProxyConfig): { rateLimits?: StatusReport['rateLimits'] } {
  const limits: NonNullable<StatusReport['rateLimits']> = [];
  const add = (scope: string, l: { requestsPerSecond: number; burst?: number | undefined } | undefined): void => {
    if (l !== undefined) limits.push({ scope, requestsPerSecond: l.requestsPerSecond, burst: l.burst ?? Math.ceil(l.requestsPerSecond) });
  };
  add('proxy-wide', config.rateLimit);
  for (const ks of config.keyStores) add(`prefix ${JSON.stringify(ks.prefix)}`, ks.rateLimit);
  return limits.length === 0 ? {} : { rateLimits: limits };
}
