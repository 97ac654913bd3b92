import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { ConfigError, loadConfigFile, type LoadedConfig } from '../config/load-config.ts';
import type { KeyStoreConfig } from '../config/schema.ts';
import { buildTenants } from '../server/build-tenants.ts';
import type { Tenant } from '../server/tenants.ts';
import { errorText, fail, ok, skip, type CheckGroup, type CheckResult } from './check-result.ts';
import { checkClock, type ClockCheckOptions } from './clock-check.ts';
import { checkCredentials } from './credentials-check.ts';
import { buildReport, type DoctorReport } from './doctor-report.ts';
import { checkEndToEnd, parseEndpoint } from './end-to-end-check.ts';
import { knownKeys } from './key-inventory.ts';
import { checkKeys, checkProviderHealth } from './keys-check.ts';
import { checkLatency } from './latency-check.ts';
import { endpointAgent } from './signed-xks-call.ts';
import { checkTlsConfig, splitPem } from './tls-config-check.ts';
import { checkServedTls } from './tls-check.ts';
import { listenerTarget } from './tls-listener-target.ts';

/** What `xks-proxy doctor` was asked to do. */
export interface DoctorOptions {
  configPath: string;
  /** XksProxyUriEndpoint to test end to end, e.g. https://xks.example.com */
  endpoint?: string;
  /** Public host name to check the certificate against when there is no endpoint. */
  hostname?: string;
  /** host:port of the running listener (default: from the config). */
  listener?: string;
  /** PEM files of private CAs to trust (tells a private root from a missing intermediate). */
  caFiles?: string[];
  clientCert?: string;
  clientKey?: string;
  /** External key ids to check: `ID` or `PREFIX=ID`. */
  keys?: string[];
  maxCredentialAgeDays?: number;
  latencySamples?: number;
  /** URL whose Date header is a trusted clock. */
  timeReference?: string;
  /** Groups not to run. */
  skip?: CheckGroup[];
  env: NodeJS.ProcessEnv;
  /** Signing clock of the end-to-end calls (tests skew it). */
  signingClock?: () => Date;
  /** Replaces the timedatectl probe (tests). */
  ntpSynchronized?: ClockCheckOptions['ntpSynchronized'];
}

/** Runs every check group and returns the report; never throws for a broken setup. */
export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfigFile(opts.configPath);
  } catch (e) {
    const problems = e instanceof ConfigError ? e.problems : [errorText(e)];
    return buildReport(
      opts.configPath,
      problems.map((p) => fail({ group: 'config', id: 'config.load', subject: opts.configPath, message: p, fix: 'correct this field of the config file (xks-proxy config check shows the same list)', kmsState: 'XKS_PROXY_NOT_REACHABLE' })),
    );
  }
  const results: CheckResult[] = [ok({ group: 'config', id: 'config.load', subject: loaded.file, message: `${loaded.config.keyStores.length} key store(s) configured` })];
  const wanted = (g: CheckGroup) => !(opts.skip ?? []).includes(g);
  let endpoint: URL | undefined;
  if (opts.endpoint !== undefined) {
    try {
      endpoint = parseEndpoint(opts.endpoint);
    } catch (e) {
      results.push(fail({ group: 'config', id: 'config.endpoint', subject: opts.endpoint, message: errorText(e), fix: 'pass --endpoint https://<public name>[:port], the value given to KMS as XksProxyUriEndpoint', kmsState: 'XKS_PROXY_INVALID_CONFIGURATION' }));
    }
  }
  const extraCaPem = (opts.caFiles ?? []).flatMap((f) => splitPem(readFileSync(f, 'utf8')));
  const extraRoots = extraCaPem.map((pem) => new X509Certificate(pem));

  if (wanted('tls')) results.push(...(await tlsChecks(loaded, opts, endpoint, extraRoots)));
  if (wanted('credentials')) results.push(...checkCredentials(loaded, { env: opts.env, maxAgeDays: opts.maxCredentialAgeDays }));

  const usableKeys = new Map<string, string>();
  if (wanted('keys') || wanted('latency')) {
    for (const ks of loaded.config.keyStores) {
      results.push(...(await keyStoreChecks(loaded, ks, opts, wanted, usableKeys)));
    }
  }

  const agent = endpointAgent(extraCaPem);
  try {
    const clockSamples = [];
    if (endpoint !== undefined && wanted('end-to-end')) {
      const e2e = await checkEndToEnd(loaded, { endpoint, agent, env: opts.env, keyFor: (p) => usableKeys.get(p), now: opts.signingClock });
      results.push(...e2e.results);
      if (e2e.serverDate !== undefined && e2e.seenAt !== undefined) clockSamples.push({ source: endpoint.origin, remote: e2e.serverDate, local: e2e.seenAt });
    } else if (wanted('end-to-end')) {
      results.push(skip({ group: 'end-to-end', id: 'e2e.health', subject: 'endpoint', message: 'no --endpoint given; pass --endpoint https://<public name> to call the proxy through it as KMS does' }));
    }
    if (wanted('clock')) {
      results.push(...(await checkClock({ samples: clockSamples, reference: opts.timeReference, referenceAgent: agent, ntpSynchronized: opts.ntpSynchronized })));
    }
  } finally {
    await agent.close();
  }
  return buildReport(loaded.file, results);
}

async function tlsChecks(loaded: LoadedConfig, opts: DoctorOptions, endpoint: URL | undefined, extraRoots: X509Certificate[]): Promise<CheckResult[]> {
  const results = checkTlsConfig(loaded, { endpointGiven: endpoint !== undefined });
  const hostname = opts.hostname ?? endpoint?.hostname;
  try {
    const local = await listenerTarget(loaded, {
      listener: opts.listener,
      servername: hostname,
      ...(opts.clientCert !== undefined && opts.clientKey !== undefined ? { clientCert: readFileSync(opts.clientCert), clientKey: readFileSync(opts.clientKey) } : {}),
    });
    if (local !== undefined) {
      try {
        results.push(...(await checkServedTls(local.target, { label: local.label, hostname, extraRoots, note: local.note })));
      } finally {
        await local.close();
      }
    }
  } catch (e) {
    results.push(fail({ group: 'tls', id: 'tls.handshake', subject: 'listener', message: `cannot serve the configured certificate: ${errorText(e)}`, fix: 'check that server.tls.cert and server.tls.key exist, are PEM, and belong together', kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION' }));
  }
  if (endpoint !== undefined) {
    const port = endpoint.port === '' ? 443 : Number(endpoint.port);
    results.push(...(await checkServedTls({ host: endpoint.hostname, port, servername: endpoint.hostname }, { label: `endpoint ${endpoint.host}`, hostname: endpoint.hostname, extraRoots })));
  }
  return results;
}

/** Provider health, keys and latency of one key store, on a private copy of its provider. */
async function keyStoreChecks(
  loaded: LoadedConfig,
  ks: KeyStoreConfig,
  opts: DoctorOptions,
  wanted: (g: CheckGroup) => boolean,
  usableKeys: Map<string, string>,
): Promise<CheckResult[]> {
  let tenant: Tenant;
  try {
    tenant = buildDoctorTenant(loaded, ks, opts.env);
  } catch (e) {
    return [fail({ group: 'keys', id: 'keys.canary', subject: `keyStores[prefix="${ks.prefix}"]`, message: `cannot set up the key store: ${errorText(e)}`, fix: 'correct the provider section of this key store', kmsState: 'XKS_PROXY_NOT_REACHABLE' })];
  }
  const results: CheckResult[] = [];
  try {
    const health = await checkProviderHealth(tenant);
    if (wanted('keys')) results.push(...health);
    const inventory = await knownKeys(ks, opts.keys ?? [], { configDir: loaded.configDir, env: opts.env });
    const keys = await checkKeys(tenant, inventory);
    if (wanted('keys')) results.push(...keys.results);
    const first = keys.usable[0];
    if (first !== undefined) usableKeys.set(ks.prefix, first);
    if (wanted('latency')) results.push(...(await checkLatency(tenant, first, { samples: opts.latencySamples })));
  } finally {
    await tenant.keyStore.close();
  }
  return results;
}

/**
 * One key store built like the proxy builds it, but with no health cache (every canary is
 * fresh) and a placeholder credential: these checks never authenticate, and a broken secret
 * reference (reported by the credential checks) must not hide key problems.
 */
function buildDoctorTenant(loaded: LoadedConfig, ks: KeyStoreConfig, env: NodeJS.ProcessEnv): Tenant {
  const placeholder = { accessKeyId: 'DOCTORPLACEHOLDERAAAAAAA', secretAccessKey: 'doctor-placeholder-never-used-for-signing-0000' };
  const config = { ...loaded.config, health: { ...loaded.config.health, cacheSeconds: 0 }, keyStores: [{ ...ks, credentials: [placeholder] }] };
  const [tenant] = buildTenants(config, { logger: pino({ level: 'silent' }), configDir: loaded.configDir, env });
  return tenant!;
}
