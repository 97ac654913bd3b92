import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { ConfigError, loadConfigFile, type LoadedConfig } from '../config/load-config.ts';
import type { KeyStoreConfig } from '../config/schema.ts';
import { buildTenants } from '../server/build-tenants.ts';
import type { Tenant } from '../xks/tenants.ts';
import { checkPgStore } from '../providers/software/pg/pg-config-check.ts';
import { errorText, fail, ok, skip, warn, type CheckGroup, type CheckResult } from './check-result.ts';
import { checkClock, type ClockCheckOptions } from './clock-check.ts';
import { checkCredentials } from './credentials-check.ts';
import { buildReport, type DoctorReport } from './doctor-report.ts';
import { checkEndToEnd, parseEndpoint } from './end-to-end-check.ts';
import { keysForPrefix, knownKeys } from './key-inventory.ts';
import { checkKeys, checkProviderHealth } from './keys-check.ts';
import { checkLatency } from './latency-check.ts';
import { endpointAgent } from './signed-xks-call.ts';
import type { StatusReport } from './status-report.ts';
import { checkTlsConfig, splitPem } from './tls-config-check.ts';
import { checkServedTls } from './tls-check.ts';
import { checkCertificateFiles } from './tls-file-check.ts';
import { listenerTarget } from './tls-listener-target.ts';
import { isIpAddress } from './tls-probe.ts';

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
  /** Client certificate and key files (PEM) for a listener or endpoint that requires mTLS; used for every connection to them. */
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
  /**
   * Reads the running proxy's status view (GET /status), to print the reason the proxy
   * logged for a refused end-to-end call; undefined or a rejection leaves the reason out.
   */
  readStatus?: () => Promise<StatusReport>;
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
      problems.map((p) =>
        fail({
          group: 'config',
          id: 'config.load',
          subject: opts.configPath,
          message: p,
          fix: 'correct this field of the config file (xks-proxy config check shows the same list)',
          kmsState: 'XKS_PROXY_NOT_REACHABLE',
        }),
      ),
    );
  }
  const results: CheckResult[] = [
    ok({ group: 'config', id: 'config.load', subject: loaded.file, message: `${loaded.config.keyStores.length} key store(s) configured` }),
  ];
  const wanted = (g: CheckGroup) => !(opts.skip ?? []).includes(g);
  let endpoint: URL | undefined;
  if (opts.endpoint !== undefined) {
    try {
      endpoint = parseEndpoint(opts.endpoint);
    } catch (e) {
      results.push(
        fail({
          group: 'config',
          id: 'config.endpoint',
          subject: opts.endpoint,
          message: errorText(e),
          fix: 'pass --endpoint https://<public name>[:port], the value given to KMS as XksProxyUriEndpoint',
          kmsState: 'XKS_PROXY_INVALID_CONFIGURATION',
        }),
      );
    }
  }
  if (endpoint !== undefined && isIpAddress(endpoint.hostname.replace(/^\[|\]$/g, ''))) {
    // The doctor still calls it (useful on a test bench), but KMS would not take this value.
    results.push(
      fail({
        group: 'config',
        id: 'config.endpoint',
        subject: opts.endpoint!,
        message: `${endpoint.hostname} is an IP address: XksProxyUriEndpoint must be a DNS name, KMS does not accept an IP address`,
        fix: 'publish a DNS name for the proxy (or use the private DNS name of a VPC endpoint service) with a certificate for it, and pass --endpoint https://<that name>',
        kmsState: 'XKS_PROXY_INVALID_CONFIGURATION',
      }),
    );
  }
  const extraCaPem = (opts.caFiles ?? []).flatMap((f) => splitPem(readFileSync(f, 'utf8')));
  const extraRoots = extraCaPem.map((pem) => new X509Certificate(pem));
  const client =
    opts.clientCert !== undefined && opts.clientKey !== undefined
      ? { clientCert: readFileSync(opts.clientCert), clientKey: readFileSync(opts.clientKey) }
      : undefined;

  if (wanted('tls')) results.push(...(await tlsChecks(loaded, opts, endpoint, extraRoots, client)));
  if (wanted('credentials')) results.push(...checkCredentials(loaded, { env: opts.env, maxAgeDays: opts.maxCredentialAgeDays }));

  const usableKeys = new Map<string, string>();
  if (wanted('keys') || wanted('latency')) {
    for (const ks of loaded.config.keyStores) {
      results.push(...(await keyStoreChecks(loaded, ks, opts, wanted, usableKeys)));
    }
  }

  if (endpoint !== undefined && wanted('end-to-end')) {
    // The client certificate goes with every call, as KMS presents its own on each.
    const agent = endpointAgent(extraCaPem, client);
    try {
      const e2e = await checkEndToEnd(loaded, {
        endpoint,
        agent,
        env: opts.env,
        keyFor: (p) => usableKeys.get(p),
        keysNamed: (p) => keysForPrefix(opts.keys ?? [], p),
        now: opts.signingClock,
        clientCertGiven: client !== undefined,
        ...(opts.readStatus !== undefined ? { readStatus: opts.readStatus } : {}),
      });
      results.push(...e2e.results);
    } finally {
      await agent.close();
    }
  } else if (wanted('end-to-end')) {
    results.push(
      skip({
        group: 'end-to-end',
        id: 'e2e.health',
        subject: 'endpoint',
        message: 'no --endpoint given; pass --endpoint https://<public name> to call the proxy through it as KMS does',
      }),
    );
  }
  if (wanted('clock')) {
    // The endpoint's Date header is written by the proxy, i.e. by the clock under test (on
    // this machine, usually): only --time-reference is an independent clock.
    const agent = endpointAgent(extraCaPem);
    try {
      results.push(...(await checkClock({ reference: opts.timeReference, referenceAgent: agent, ntpSynchronized: opts.ntpSynchronized })));
    } finally {
      await agent.close();
    }
  }
  return buildReport(loaded.file, results);
}

async function tlsChecks(
  loaded: LoadedConfig,
  opts: DoctorOptions,
  endpoint: URL | undefined,
  extraRoots: X509Certificate[],
  client: { clientCert: Buffer; clientKey: Buffer } | undefined,
): Promise<CheckResult[]> {
  const results = checkTlsConfig(loaded, { endpointGiven: endpoint !== undefined });
  const hostname = opts.hostname ?? endpoint?.hostname;
  try {
    const local = await listenerTarget(loaded, opts.listener);
    if (local?.running === true) {
      results.push(
        ...(await checkServedTls({ host: local.host, port: local.port, servername: hostname, ...client }, { label: local.label, hostname, extraRoots })),
      );
    } else if (local !== undefined) {
      results.push(
        fail({
          group: 'tls',
          id: 'tls.handshake',
          subject: local.label,
          message: `nothing accepts connections at ${local.host}:${local.port}; the certificate files are checked below, but no handshake or cipher suite could be`,
          fix: 'start the proxy (xks-proxy serve), or pass --listener <host:port> where it runs',
          kmsState: 'XKS_PROXY_NOT_REACHABLE',
        }),
      );
      results.push(...checkCertificateFiles(loaded, { hostname, extraRoots }));
    }
  } catch (e) {
    results.push(
      fail({
        group: 'tls',
        id: 'tls.handshake',
        subject: 'listener',
        message: errorText(e),
        fix: 'pass --listener as host:port',
        kmsState: 'XKS_PROXY_NOT_REACHABLE',
      }),
    );
  }
  if (endpoint !== undefined) {
    const port = endpoint.port === '' ? 443 : Number(endpoint.port);
    const host = endpoint.hostname.replace(/^\[|\]$/g, '');
    results.push(...(await checkServedTls({ host, port, servername: host, ...client }, { label: `endpoint ${endpoint.host}`, hostname: host, extraRoots })));
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
    return [
      fail({
        group: 'keys',
        id: 'keys.canary',
        subject: `keyStores[prefix="${ks.prefix}"]`,
        message: `cannot set up the key store: ${errorText(e)}`,
        fix: 'correct the provider section of this key store',
        kmsState: 'XKS_PROXY_NOT_REACHABLE',
      }),
    ];
  }
  const results: CheckResult[] = [];
  if (wanted('keys') && ks.provider.type === 'software' && ks.provider.store?.postgres !== undefined) {
    // The fleet's database: reachable, TLS, schema version, the secret, live proxies.
    const subject = `keyStores[prefix="${ks.prefix}"].provider`;
    for (const f of await checkPgStore(ks.provider, { configDir: loaded.configDir, env: opts.env })) {
      const fields = { group: 'keys' as const, id: 'keys.store', subject: `${subject}.${f.field}`, message: f.message };
      if (f.level === 'ok') results.push(ok(fields));
      else if (f.level === 'warn') results.push(warn({ ...fields, fix: 'see docs/fleet.md (TLS to the database)' }));
      else
        results.push(
          fail({
            ...fields,
            fix: 'make the database reachable with the configured URL, run "xks-proxy keys init", and give every proxy the same secret (docs/fleet.md)',
            kmsState: 'XKS_PROXY_NOT_REACHABLE',
          }),
        );
    }
  }
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
  const [tenant] = buildTenants(config, { logger: pino({ level: 'silent' }), configDir: loaded.configDir, env, checkOnly: true });
  return tenant!;
}
