/**
 * `npx tsx bench/http-abuse.ts [--server '{"limits":{...}}'] [--repo DIR]`: what HTTP-level
 * abuse does to the proxy (issue 15 items 4, 5, 7), against a real child proxy on loopback
 * (TLS, HTTP/2 + HTTP/1.1, software keystore). The floods run in a process of their own
 * (test/support/http-flooder.ts) so they do not slow this process's probes. Each phase is
 * bounded; prints one JSON line per phase:
 *   h2-flood    one HTTP/2 connection opens thousands of streams and holds them
 *   h2-reset    one HTTP/2 connection opens and resets thousands of streams
 *   h2-hold     20 HTTP/2 connections each hold up to 1,000 unfinished streams (as many as allowed)
 *   conn-flood  thousands of TCP connections that send nothing
 *   idle        50 silent connections: how long until the proxy closes them
 * with the latency of signed GetHealthStatus probes from another connection meanwhile,
 * the proxy's RSS, its open connections, and the log lines the phase caused.
 * `--repo` runs the proxy from another checkout (for before/after numbers).
 */
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { parseArgs } from 'node:util';
import { createTestPki } from '../test/support/tls-certs.ts';
import { startProxyProcess, type ProxyProcess } from '../test/support/proxy-process.ts';
import { startFlooder } from '../test/support/run-flooder.ts';
import type { FloodPlan, FloodResult } from '../test/support/http-flooder.ts';
import { DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../test/support/xks-client.ts';

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: '{}' },
    repo: { type: 'string' },
    streams: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '3000' },
    only: { type: 'string' },
    'hold-connections': { type: 'string', default: '20' },
  },
});
const STREAMS = Number(values.streams);
const CONNECTIONS = Number(values.connections);
const HEALTH = xksPath(DEMO_PREFIX, 'health');
const BODY = JSON.stringify({ requestMetadata: requestMetadata('KmsHealthCheck') });

const pki = createTestPki();
const ca = readFileSync(pki.caCert);
const proxy = await startProxyProcess({
  tls: { cert: pki.serverCert, key: pki.serverKey },
  server: JSON.parse(values.server) as Record<string, unknown>,
  ...(values.repo === undefined ? {} : { repoDir: values.repo }),
});
const origin = `https://localhost:${proxy.port}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMb(p: ProxyProcess): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
    return m === null ? 0 : Math.round(Number(m[1]) / 1024);
  } catch {
    return -1;
  }
}

/** CPU time (user + system) the proxy process has used, in ms (/proc/<pid>/stat, 100 ticks/s). */
function cpuMs(p: ProxyProcess): number {
  try {
    const fields = readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return -1;
  }
}

/** Open sockets of the proxy process (its fds that are sockets). */
function socketsOpen(p: ProxyProcess): number {
  try {
    const tcp = readFileSync('/proc/net/tcp', 'utf8').split('\n');
    // Connections whose local port is the proxy's, established (state 01).
    const portHex = `:${p.port.toString(16).toUpperCase().padStart(4, '0')}`;
    return tcp.filter((l) => l.split(/\s+/)[2]?.endsWith(portHex) && l.split(/\s+/)[4] === '01').length;
  } catch {
    return -1;
  }
}

/** Probes come from 127.0.0.2: another client than the flooder (127.0.0.1), as KMS would be. */
function connectH2(): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(origin, { ca, ...{ localAddress: '127.0.0.2' } });
    s.once('remoteSettings', () => resolve(s));
    s.once('error', reject);
  });
}

function signedCall(s: http2.ClientHttp2Session, timeoutMs = 5000): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const headers = signXks(HEALTH, BODY, { host: `localhost:${proxy.port}` });
    delete headers.host;
    let req: http2.ClientHttp2Stream;
    try {
      req = s.request({ ':method': 'POST', ':path': HEALTH, ...headers });
    } catch {
      resolve({ status: -1, ms: performance.now() - t0 });
      return;
    }
    const timer = setTimeout(() => {
      req.close();
      resolve({ status: 0, ms: performance.now() - t0 });
    }, timeoutMs);
    req.on('response', (h) => {
      clearTimeout(timer);
      resolve({ status: Number(h[':status']), ms: performance.now() - t0 });
    });
    req.on('error', () => {
      clearTimeout(timer);
      resolve({ status: -1, ms: performance.now() - t0 });
    });
    req.resume();
    req.end(BODY);
  });
}

/** Signed probes every 50 ms on a connection of their own until `stop` resolves. */
async function probe(stop: Promise<unknown>): Promise<{ n: number; failed: number; p50: number; p99: number; max: number }> {
  let s: http2.ClientHttp2Session;
  try {
    s = await connectH2();
  } catch (e) {
    await stop.catch(() => undefined);
    return { n: 1, failed: 1, p50: -1, p99: -1, max: -1, error: (e as Error).message } as never;
  }
  await signedCall(s);
  const results: Array<{ status: number; ms: number }> = [];
  let done = false;
  void stop.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done) {
    results.push(await signedCall(s));
    await sleep(50);
  }
  s.destroy();
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  const q = (p: number) => Math.round(ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)]! * 10) / 10;
  return { n: results.length, failed: results.filter((r) => r.status !== 200).length, p50: q(0.5), p99: q(0.99), max: q(1) };
}

function messageOf(line: string): string {
  try {
    const o = JSON.parse(line) as { msg?: string; status?: number };
    return `${o.msg}${o.status === undefined ? '' : ` ${o.status}`}`;
  } catch {
    return `(not JSON) ${line.slice(0, 60)}`;
  }
}

function logCounts(from: number): Record<string, unknown> {
  const lines = proxy.output().slice(from);
  const byMessage: Record<string, number> = {};
  for (const l of lines) byMessage[messageOf(l)] = (byMessage[messageOf(l)] ?? 0) + 1;
  return {
    lines: lines.length,
    status500: lines.filter((l) => l.includes('"status":500')).length,
    internalException: lines.filter((l) => l.includes('InternalException')).length,
    stackTraces: lines.filter((l) => l.includes('"stack"')).length,
    byMessage,
    // Why requests were refused (first of each reason), to tell probe failures from flood lines.
    reasons: [...new Set(lines.map((l) => /"reason":"([^"]{0,120})/.exec(l)?.[1]).filter((r) => r !== undefined))].slice(0, 5),
  };
}

const only = values.only === undefined ? undefined : new Set(values.only.split(','));

async function phase(name: string, plan: Omit<FloodPlan, 'url' | 'ca' | 'port'>, withProbes = true): Promise<void> {
  if (only !== undefined && !only.has(name)) return;
  await sleep(500);
  const logFrom = proxy.output().length;
  const rssBefore = rssMb(proxy);
  const cpuBefore = cpuMs(proxy);
  let peak = rssBefore;
  let peakSockets = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(proxy));
    peakSockets = Math.max(peakSockets, socketsOpen(proxy));
  }, 100);
  const run = startFlooder({ ...plan, url: origin, ca: pki.caCert, port: proxy.port, path: HEALTH });
  const flood = run.done;
  await run.started;
  const probes = withProbes ? probe(flood) : undefined;
  let seen: FloodResult | string;
  try {
    seen = await flood;
  } catch (e) {
    seen = (e as Error).message.slice(0, 200);
  }
  const probeResult = await probes;
  clearInterval(sampler);
  await sleep(700);
  const cpu = cpuMs(proxy) - cpuBefore;
  console.log(
    JSON.stringify({
      phase: name,
      count: plan.count,
      flooder: seen,
      ...(probeResult === undefined ? {} : { probes: probeResult }),
      rssMb: { before: rssBefore, peak },
      // Includes the probes' requests: compare phases with the same probe count.
      proxyCpuMs: cpu,
      proxySockets: { peak: peakSockets, after: socketsOpen(proxy) },
      log: logCounts(logFrom),
    }),
  );
}

await phase('h2-flood', { mode: 'h2-streams', count: STREAMS, holdMs: 3000 });
await phase('h2-reset', { mode: 'h2-reset', count: STREAMS, holdMs: 1500 });
await phase('h2-hold', { mode: 'h2-hold', count: 1000, connections: Number(values['hold-connections']), holdMs: 12_000 });
await phase('conn-flood', { mode: 'connections', host: '127.0.0.1', count: CONNECTIONS, holdMs: 3000 });
await phase('idle', { mode: 'connections', host: '127.0.0.1', count: 50, holdMs: 8000 }, false);

// /ping on a fresh connection after all that.
const after = await connectH2();
const ping = await new Promise<number>((resolve) => {
  const req = after.request({ ':path': '/ping' });
  req.on('response', (h) => resolve(Number(h[':status'])));
  req.on('error', () => resolve(-1));
  req.resume();
});
after.destroy();
console.log(JSON.stringify({ phase: 'after', ping, proxySockets: socketsOpen(proxy) }));
await proxy.stop();
pki.cleanup();
