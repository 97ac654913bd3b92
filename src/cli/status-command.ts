import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { Agent, request } from 'undici';
import { loadConfigFile } from '../config/load-config.ts';
import { isSecretRef, resolveSecretRef } from '../config-values/secret-ref.ts';
import { formatStatus } from '../diagnostics/status-format.ts';
import type { StatusReport } from '../diagnostics/status-report.ts';
import { cliAction, configOption } from './cli-action.ts';
import { formatFleet, readFleet } from './fleet-status.ts';

/** Flags of `xks-proxy status`. */
interface StatusFlags {
  url?: string;
  config: string;
  token?: string;
  clientCert?: string;
  clientKey?: string;
  json?: boolean;
  fleet?: boolean;
}

/** A bind address as a host to connect to (a wildcard bind is reached on loopback). */
function connectHost(bind: string): string {
  const host = bind === '0.0.0.0' || bind === '' ? '127.0.0.1' : bind === '::' ? '[::1]' : bind;
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * The status URL of the proxy a config describes: the admin listener when `admin` is
 * configured (plain HTTP, not behind mTLS, one view for all workers), else the XKS listener.
 */
export async function statusUrlFromConfig(configPath: string): Promise<URL> {
  const { config } = await loadConfigFile(configPath);
  if (config.admin !== undefined) return new URL(`http://${connectHost(config.admin.host)}:${config.admin.port}/status`);
  return new URL(`${config.server.tls ? 'https' : 'http'}://${connectHost(config.server.host)}:${config.server.port}/status`);
}

/** Why the XKS listener hung up on us, when its config says it requires a client certificate. */
async function mtlsHint(configPath: string, url: URL): Promise<string> {
  try {
    const { config } = await loadConfigFile(configPath);
    if (config.admin === undefined && config.server.tls?.mtls !== undefined && url.protocol === 'https:') {
      return ': the listener requires a client certificate (server.tls.mtls); add an `admin:` section to the config (GET /status on a plain loopback listener) and restart, or pass --client-cert/--client-key';
    }
  } catch {
    // no readable config: no hint
  }
  return '';
}

/**
 * The bearer token for the status view: --token takes a secret reference (env:NAME or
 * file:PATH, relative to the working directory), never the token itself, which would sit
 * in shell history and `ps`. Without --token, the config's server.statusToken is used.
 */
async function statusToken(flags: StatusFlags): Promise<string | undefined> {
  if (flags.token !== undefined) {
    if (!isSecretRef(flags.token)) throw new Error('--token takes a secret reference (env:NAME or file:PATH), not the token itself');
    return resolveSecretRef(flags.token, '--token');
  }
  if (flags.url !== undefined) return undefined;
  try {
    const { config, configDir } = await loadConfigFile(flags.config);
    const ref = config.admin !== undefined ? config.admin.token : config.server.statusToken;
    return ref === undefined ? undefined : resolveSecretRef(ref, 'server.statusToken', process.env, configDir);
  } catch {
    return undefined; // no readable config: the status URL step reports that
  }
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname.startsWith('127.') || hostname === '[::1]' || hostname === '::1';
}

/** Fetches the status view of a running proxy; errors say what to change. */
export async function fetchStatus(url: URL, opts: { token?: string; clientCert?: Buffer; clientKey?: Buffer }): Promise<StatusReport> {
  // The served certificate names the public host, not 127.0.0.1; a loopback connection
  // never leaves this machine, so its certificate is not verified. Other hosts are.
  const agent = new Agent({
    connect: {
      rejectUnauthorized: !isLoopbackHost(url.hostname),
      ...(opts.clientCert !== undefined ? { cert: opts.clientCert, key: opts.clientKey } : {}),
    },
  });
  try {
    let res;
    try {
      res = await request(url, {
        method: 'GET',
        dispatcher: agent,
        headers: opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {},
        signal: AbortSignal.timeout(10_000),
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED') throw new Error(`no proxy answers at ${url.origin}: start it (xks-proxy serve) or pass --url`);
      throw new Error(`cannot reach ${url.href}: ${(e as Error).message}`);
    }
    const text = await res.body.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`${url.href} answered HTTP ${res.statusCode} with something that is not the status view`);
    }
    if (res.statusCode === 403) throw new Error(`${url.href} refused: ${(body as { error?: string }).error ?? 'forbidden'}`);
    if (res.statusCode !== 200 || typeof body !== 'object' || body === null || !('keyStores' in body)) {
      throw new Error(`${url.href} does not serve the status view (HTTP ${res.statusCode}): enable it with server.statusEndpoint: true and restart the proxy`);
    }
    return body as StatusReport;
  } finally {
    await agent.close();
  }
}

/** `xks-proxy status`: what the running proxy has seen from KMS, per key store. */
export function statusCommand(): Command {
  return new Command('status')
    .description(
      'show, per key store, the last GetHealthStatus from KMS, the last error of each kind, credential use and age, key manager states and certificate expiry (from a running proxy)',
    )
    .option('--url <url>', 'status URL of the running proxy (default: from the config, e.g. http://127.0.0.1:8080/status)')
    .addOption(configOption('config file, to find the listener'))
    .option('--token <ref>', "bearer token as env:NAME or file:PATH, when the status view is read from another host (default: the config's server.statusToken)")
    .option('--client-cert <file>', 'client certificate, when the listener requires mTLS')
    .option('--client-key <file>', 'key of --client-cert')
    .option('--json', 'print the raw JSON')
    .option('--fleet', 'list the proxies sharing the PostgreSQL key store (from their heartbeats in the database, not from one proxy)')
    .action(
      cliAction(async (flags: StatusFlags) => {
        if (flags.fleet) {
          const fleet = await readFleet(flags.config);
          process.stdout.write(flags.json ? `${JSON.stringify(fleet, null, 2)}\n` : formatFleet(fleet));
          return;
        }
        let url = flags.url !== undefined ? new URL(flags.url) : await statusUrlFromConfig(flags.config);
        if (url.pathname === '/' || url.pathname === '') url = new URL('/status', url);
        const tlsClient =
          flags.clientCert !== undefined && flags.clientKey !== undefined
            ? { clientCert: readFileSync(flags.clientCert), clientKey: readFileSync(flags.clientKey) }
            : {};
        let report: StatusReport;
        try {
          report = await fetchStatus(url, { token: await statusToken(flags), ...tlsClient });
        } catch (e) {
          const hint = flags.url === undefined && tlsClient.clientCert === undefined ? await mtlsHint(flags.config, url) : '';
          throw hint === '' ? e : new Error(`${(e as Error).message}${hint}`);
        }
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
      }),
    );
}
