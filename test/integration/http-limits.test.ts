/**
 * The listener under abuse, on real sockets (loopback only, every flood bounded and run
 * from its own process so it cannot slow the probes): HTTP/2 stream and reset floods
 * against the TLS listener, connection floods, and clients that go silent. What a user
 * would notice: other clients keep getting fast answers, the limits hold, each flood is a
 * line or two in the log (never a 500 or a stack trace), and the proxy answers afterwards.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { runFlooder, startFlooder } from '../support/run-flooder.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { createTestPki, type TestPki } from '../support/tls-certs.ts';
import { DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

let pki: TestPki;
let fx: SoftwareFixture;

beforeAll(async () => {
  pki = createTestPki();
  fx = await createSoftwareFixture();
});
afterAll(async () => {
  await fx?.cleanup();
  pki?.cleanup();
});

const HEALTH = xksPath(DEMO_PREFIX, 'health');
const BODY = JSON.stringify({ requestMetadata: requestMetadata('KmsHealthCheck') });

/** A proxy with its own captured log; closed when the test ends. */
interface LoggedProxy {
  proxy: RunningProxy;
  port: number;
  lines: () => Array<Record<string, unknown>>;
}

async function startLoggedProxy(server: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<LoggedProxy> {
  const captured: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      captured.push(
        ...String(chunk)
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  const raw = softwareConfig(fx.keystorePath, fx.kekHex, { server: { host: '127.0.0.1', port: 0, ...server }, ...extra });
  const config = parseConfig(raw, 'test.yaml');
  const proxy = await startProxy({ config, file: 'test.yaml', configDir: fx.dir }, { logger: pino({ level: 'info' }, sink) });
  onTestFinished(() => proxy.close());
  return { proxy, port: proxy.listener.address.port, lines: () => captured.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const TLS = () => ({ cert: pki.serverCert, key: pki.serverKey });

function connectH2(port: number, localAddress?: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`https://localhost:${port}`, { ca: readFileSync(pki.caCert), ...(localAddress === undefined ? {} : { localAddress }) });
    s.once('remoteSettings', () => resolve(s));
    s.once('error', reject);
  });
}

/** One signed GetHealthStatus on an open session: status and milliseconds. */
function signedHealth(session: http2.ClientHttp2Session, port: number): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers = signXks(HEALTH, BODY, { host: `localhost:${port}` });
    delete headers.host; // :authority carries it
    const req = session.request({ ':method': 'POST', ':path': HEALTH, ...headers });
    req.on('response', (h) => resolve({ status: Number(h[':status']), ms: performance.now() - started }));
    req.on('error', reject);
    req.resume();
    req.end(BODY);
  });
}

/** GET /ping over HTTP/2 on a new connection (optionally from another loopback address). */
async function ping(port: number, localAddress?: string): Promise<number> {
  const s = await connectH2(port, localAddress);
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = s.request({ ':path': '/ping' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
    });
  } finally {
    s.destroy();
  }
}

/**
 * The listener's open connections once they stop growing toward `expected` (a flood's
 * connects can sit in the kernel's backlog for a moment before the server accepts them).
 */
async function settledConnections(proxy: RunningProxy, expected: number): Promise<number> {
  const deadline = Date.now() + 5000;
  let n = await proxy.listener.connections();
  while (n < expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    n = await proxy.listener.connections();
  }
  // Anything past the limit would show up now.
  await new Promise((r) => setTimeout(r, 200));
  return proxy.listener.connections();
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

const byMsg = (lines: Array<Record<string, unknown>>, pattern: RegExp) => lines.filter((l) => pattern.test(String(l.msg)));
const noServerErrors = (lines: Array<Record<string, unknown>>) =>
  lines.filter((l) => l.status === 500 || l.errorName === 'InternalException' || JSON.stringify(l).includes('"stack"') || l.msg === 'unexpected error');

describe('HTTP/2 limits', () => {
  it('advertises the configured stream and header limits instead of 2^32-1 streams', async () => {
    const { port } = await startLoggedProxy({ tls: TLS(), limits: { http2MaxConcurrentStreams: 64 } });
    const s = await connectH2(port);
    try {
      expect(s.remoteSettings.maxConcurrentStreams).toBe(64);
      expect(s.remoteSettings.maxHeaderListSize).toBe(16 * 1024);
    } finally {
      s.destroy();
    }
  });

  it('resets a stream whose headers exceed maxHeaderBytes or maxHeaderCount', async () => {
    const { port, lines } = await startLoggedProxy({ tls: TLS() });
    const s = await connectH2(port);
    onTestFinished(() => s.destroy());
    await new Promise((r) => setTimeout(r, 100)); // our SETTINGS acknowledged: the limits apply
    const attempt = (headers: Record<string, string>) =>
      new Promise<string>((resolve) => {
        const req = s.request({ ':path': '/ping', ...headers });
        req.on('response', (h) => resolve(`status ${h[':status']}`));
        req.on('error', (e: Error & { code?: string }) => resolve(e.message));
        req.resume();
      });
    const big = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`x-big${i}`, 'v'.repeat(3000)]));
    const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, 'v']));
    expect(await attempt(big)).toMatch(/ENHANCE_YOUR_CALM|REFUSED_STREAM/);
    expect(await attempt(many)).toMatch(/ENHANCE_YOUR_CALM|REFUSED_STREAM/);
    expect(noServerErrors(lines())).toEqual([]);
  });

  it('keeps answering another client fast while one connection floods streams, and logs the flood once', async () => {
    const { port, lines } = await startLoggedProxy({ tls: TLS(), limits: { http2MaxConcurrentStreams: 64 } });
    const probeSession = await connectH2(port);
    onTestFinished(() => probeSession.destroy());
    await signedHealth(probeSession, port); // warm: first call pays for lazy set-up
    const flood = startFlooder({ mode: 'h2-streams', url: `https://localhost:${port}`, ca: pki.caCert, path: HEALTH, count: 5000, holdMs: 3000 });
    await flood.started;
    const probes: Array<{ status: number; ms: number }> = [];
    for (let i = 0; i < 15; i++) {
      probes.push(await signedHealth(probeSession, port));
      await new Promise((r) => setTimeout(r, 60));
    }
    const seen = await flood.done;
    await new Promise((r) => setTimeout(r, 300));

    expect(seen.advertisedMaxConcurrentStreams).toBe(64);
    // Streams past the limit were refused and the connection ended for it (ENHANCE_YOUR_CALM).
    expect(seen.refused).toBeGreaterThan(0);
    expect(probes.every((p) => p.status === 200)).toBe(true);
    expect(
      percentile(
        probes.map((p) => p.ms),
        0.99,
      ),
    ).toBeLessThan(250);
    const all = lines();
    expect(noServerErrors(all)).toEqual([]);
    expect(byMsg(all, /^HTTP\/2 connection closed after abuse/)).toHaveLength(1);
    expect(all.filter((l) => l.status === 499).length).toBeLessThanOrEqual(3);
  });

  it('logs a stream reset flood as one line, never as 500 InternalException', async () => {
    const { proxy, port, lines } = await startLoggedProxy({ tls: TLS() });
    const seen = await runFlooder({ mode: 'h2-reset', url: `https://localhost:${port}`, ca: pki.caCert, path: HEALTH, count: 3000, holdMs: 500 });
    await new Promise((r) => setTimeout(r, 300));
    const all = lines();
    expect(seen.advertisedMaxConcurrentStreams).toBe(128);
    expect(noServerErrors(all)).toEqual([]);
    // A few client aborts get their request line, the rest are counted, and the
    // connection gets one summary line.
    const aborts = all.filter((l) => l.msg === 'xks request' && l.status === 499);
    expect(aborts.length).toBeGreaterThan(0);
    expect(aborts.length).toBeLessThanOrEqual(3);
    expect(String(aborts[0]!.reason)).toMatch(/client aborted/);
    const flood = byMsg(all, /^HTTP\/2 connection closed after abuse/);
    expect(flood).toHaveLength(1);
    expect(Number(flood[0]!.resetByClient)).toBeGreaterThanOrEqual(10);
    // The flooding connection was closed on the server side too (not left holding a socket).
    expect(await proxy.listener.connections()).toBe(0);
    expect(await ping(port)).toBe(200);
  });

  it('closes an idle HTTP/2 connection after idleTimeoutMs', async () => {
    const { port } = await startLoggedProxy({ tls: TLS(), limits: { idleTimeoutMs: 500 } });
    const s = await connectH2(port);
    const started = Date.now();
    await new Promise((resolve) => s.once('close', resolve));
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('cancels a stream whose body never completes after requestReceiveTimeoutMs', async () => {
    const { port, lines } = await startLoggedProxy({ tls: TLS(), limits: { requestReceiveTimeoutMs: 1000, headersTimeoutMs: 1000 } });
    const s = await connectH2(port);
    onTestFinished(() => s.destroy());
    const req = s.request({ ':method': 'POST', ':path': HEALTH, 'content-type': 'application/json', 'content-length': '100' });
    req.write('{');
    const rst = await new Promise<number>((resolve) => req.on('close', () => resolve(req.rstCode ?? -1)));
    expect(rst).toBe(http2.constants.NGHTTP2_CANCEL);
    await new Promise((r) => setTimeout(r, 100));
    expect(byMsg(lines(), /^HTTP\/2 request not received in time/)).toHaveLength(1);
    expect(noServerErrors(lines())).toEqual([]);
  });
});

describe('connection limits', () => {
  it('refuses one address past maxConnectionsPerPeer while another address is served', async () => {
    const { proxy, port, lines } = await startLoggedProxy({ tls: TLS(), limits: { maxConnections: 500, maxConnectionsPerPeer: 100 } });
    const flood = startFlooder({ mode: 'connections', url: '', host: '127.0.0.1', port, count: 2000, holdMs: 3000 });
    await flood.started;
    // The flooder holds what it got: its 100, no more.
    expect(await settledConnections(proxy, 100)).toBe(100);
    // Another client (address) during the flood: served, signed request and /ping.
    const other = await connectH2(port, '127.0.0.2');
    onTestFinished(() => other.destroy());
    expect((await signedHealth(other, port)).status).toBe(200);
    expect(await ping(port, '127.0.0.2')).toBe(200);
    const seen = await flood.done;
    // The flooder saw most of its connections past the first 100 closed; not all: with
    // 2,000 connects at once some wait in the kernel's listen backlog (or were dropped
    // from it and retried), unseen by the server while the flooder looks.
    expect(seen.closedByServer).toBeGreaterThanOrEqual(1500);
    expect(seen.firstCloseMs).toBeLessThan(2000);
    const refusals = byMsg(lines(), /maxConnectionsPerPeer reached/);
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(refusals.length).toBeLessThanOrEqual(2);
    expect(refusals[0]!.remoteAddress).toBe('127.0.0.1');
    // After the flood the flooding address itself is served again.
    expect(await ping(port)).toBe(200);
  });

  it('refuses connections past maxConnections, logs it once, and serves again after the flood', async () => {
    const { proxy, port, lines } = await startLoggedProxy(
      { tls: TLS(), limits: { maxConnections: 100, maxConnectionsPerPeer: 0 } },
      { metrics: { host: '127.0.0.1', port: 0 } },
    );
    const flood = startFlooder({ mode: 'connections', url: '', host: '127.0.0.1', port, count: 1000, holdMs: 2000 });
    await flood.started;
    expect(await settledConnections(proxy, 100)).toBe(100);
    const during = await (await fetch(proxy.metricsUrl!)).text();
    // 100, or 101 with the scrape's own connection if it were on this listener (it is not).
    expect(Number(/^xks_proxy_open_connections (\d+)$/m.exec(during)?.[1])).toBe(100);
    const seen = await flood.done;
    expect(seen.closedByServer).toBeGreaterThanOrEqual(800);
    const metrics = await (await fetch(proxy.metricsUrl!)).text();
    expect(Number(/^xks_proxy_connections_refused_total\{limit="maxConnections"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(800);
    const refusals = byMsg(lines(), /maxConnections reached/);
    expect(refusals).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(await ping(port)).toBe(200);
  });

  it('closes connections that never finish a TLS handshake after handshakeTimeoutMs', async () => {
    const { port } = await startLoggedProxy({ tls: TLS(), limits: { handshakeTimeoutMs: 500 } });
    const seen = await runFlooder({ mode: 'connections', url: '', host: '127.0.0.1', port, count: 50, holdMs: 2500 });
    expect(seen.closedByServer).toBe(50);
    expect(seen.firstCloseMs).toBeGreaterThanOrEqual(400);
  });

  it('closes a plain HTTP connection that sends no request after headersTimeoutMs', async () => {
    const { port } = await startLoggedProxy({ limits: { headersTimeoutMs: 500, requestReceiveTimeoutMs: 1000 } });
    const started = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('data', () => undefined);
    await new Promise((resolve) => socket.once('close', resolve));
    // Node's default is 60 s (checked every 30 s); ours 500 ms, checked every second.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('plain HTTP keep-alive', () => {
  it('uses idleTimeoutMs as the keep-alive timeout', async () => {
    const { port } = await startLoggedProxy({ limits: { idleTimeoutMs: 2000 } });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/ping', agent: new http.Agent({ keepAlive: true }) }, resolve);
      req.on('error', reject);
      req.end();
    });
    res.resume();
    expect(res.headers['keep-alive']).toBe('timeout=2');
  });
});
