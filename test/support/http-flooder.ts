/**
 * A bounded HTTP abuser, run as its own process (`node --import tsx test/support/http-flooder.ts '<json>'`)
 * so that generating the flood does not slow the test's or benchmark's own probe requests:
 * only the proxy's behaviour shows in their latency. Loopback only; every mode stops by
 * itself within `holdMs` plus a few seconds. Prints `{"started":true}` once the flood is
 * under way (streams or connections opened; the hold begins), then one JSON line with
 * what it saw.
 *
 * Modes:
 *   h2-streams   one HTTP/2 connection opens `count` POST streams at once, without waiting
 *                for the server's SETTINGS (as an abusive client would), sends one body
 *                byte of 100 declared and holds them for `holdMs`
 *   h2-reset     one HTTP/2 connection opens and cancels (RST_STREAM) `count` streams
 *   h2-hold      `connections` HTTP/2 connections, each keeping as many unfinished POST
 *                streams open as the server allows (refilled when the server cancels
 *                them), for `holdMs`: the most a client obeying SETTINGS can hold
 *   connections  `count` TCP connections that send nothing, held for `holdMs`
 */
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';

/** What the flooder is told to do. */
export interface FloodPlan {
  mode: 'h2-streams' | 'h2-reset' | 'h2-hold' | 'connections';
  /** Connections (h2-hold). */
  connections?: number;
  /** https://localhost:<port> (HTTP/2 modes) */
  url: string;
  /** PEM file of the CA that issued the proxy's certificate (HTTP/2 modes). */
  ca?: string;
  /** 127.0.0.1 or ::1 and the port (connections mode). */
  host?: string;
  port?: number;
  /** Local address to connect from (connections mode), e.g. 127.0.0.3. */
  localAddress?: string;
  path?: string;
  count: number;
  holdMs: number;
}

/** What the flooder saw. */
export interface FloodResult {
  mode: string;
  /** SETTINGS_MAX_CONCURRENT_STREAMS the server advertised. */
  advertisedMaxConcurrentStreams?: number;
  /** Streams or connections the server refused, reset or closed while held. */
  refused: number;
  /** Streams opened (HTTP/2 modes). */
  opened?: number;
  /** Streams that got a response. */
  answered: number;
  /** The server sent GOAWAY or closed the connection. */
  goaway: boolean;
  /** Set when the run hit the flooder's hard stop. */
  stoppedAfterMs?: number;
  /** Connections the server closed while held, and how long the first close took. */
  closedByServer?: number;
  firstCloseMs?: number;
}

const plan = JSON.parse(process.argv[2] ?? '{}') as FloodPlan;
/** What was seen so far; reported even when the hard stop cuts the run short. */
let current: FloodResult = { mode: plan.mode, refused: 0, answered: 0, goaway: false };
// A hard stop, whatever happens (say, a server that stops reading): report and exit.
setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ ...current, stoppedAfterMs: plan.holdMs + 15_000 })}\n`);
  process.exit(0);
}, plan.holdMs + 15_000).unref();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const announceStarted = () => process.stdout.write('{"started":true}\n');

async function h2Streams(): Promise<FloodResult> {
  const session = http2.connect(plan.url, { ca: readFileSync(plan.ca!), peerMaxConcurrentStreams: 1_000_000 });
  const result: FloodResult = (current = { mode: plan.mode, refused: 0, answered: 0, goaway: false });
  session.on('error', () => undefined);
  session.on('goaway', () => (result.goaway = true));
  session.on('close', () => (result.goaway = true));
  session.on('remoteSettings', (s) => (result.advertisedMaxConcurrentStreams ??= s.maxConcurrentStreams));
  for (let i = 0; i < plan.count && !session.destroyed; i++) {
    try {
      const req = session.request({
        ':method': 'POST',
        ':path': plan.path ?? '/kms/xks/v1/health',
        'content-type': 'application/json',
        'content-length': '100',
      });
      result.opened = (result.opened ?? 0) + 1;
      req.on('response', () => result.answered++);
      req.on('error', () => result.refused++);
      req.on('close', () => {
        if (req.rstCode !== undefined && req.rstCode !== http2.constants.NGHTTP2_NO_ERROR && req.rstCode !== http2.constants.NGHTTP2_CANCEL) result.refused++;
      });
      req.write('{');
    } catch {
      result.refused++;
    }
  }
  announceStarted();
  await sleep(plan.holdMs);
  session.destroy();
  return result;
}

async function h2Reset(): Promise<FloodResult> {
  const session = http2.connect(plan.url, { ca: readFileSync(plan.ca!), peerMaxConcurrentStreams: 1_000_000 });
  const result: FloodResult = (current = { mode: plan.mode, refused: 0, answered: 0, goaway: false });
  session.on('error', () => undefined);
  session.on('goaway', () => (result.goaway = true));
  await new Promise((r) => session.once('remoteSettings', r));
  result.advertisedMaxConcurrentStreams = session.remoteSettings.maxConcurrentStreams;
  announceStarted();
  for (let i = 0; i < plan.count && !session.destroyed && !result.goaway; i++) {
    try {
      const req = session.request({
        ':method': 'POST',
        ':path': plan.path ?? '/kms/xks/v1/health',
        'content-type': 'application/json',
        'content-length': '100',
      });
      req.on('error', () => undefined);
      result.opened = (result.opened ?? 0) + 1;
      req.write('{');
      // Let the HEADERS and the byte go out, then reset: the server has started the request.
      if (i % 50 === 49) await new Promise((r) => setImmediate(r));
      req.close(http2.constants.NGHTTP2_CANCEL);
    } catch {
      break;
    }
  }
  await sleep(plan.holdMs);
  session.destroy();
  return result;
}

async function h2Hold(): Promise<FloodResult> {
  const result: FloodResult = (current = { mode: plan.mode, refused: 0, answered: 0, goaway: false, opened: 0 });
  let stopping = false;
  const sessions: http2.ClientHttp2Session[] = [];
  const open = (session: http2.ClientHttp2Session) => {
    if (stopping || session.destroyed || session.closed) return;
    try {
      const req = session.request({
        ':method': 'POST',
        ':path': plan.path ?? '/kms/xks/v1/health',
        'content-type': 'application/json',
        'content-length': '100',
      });
      result.opened!++;
      req.on('response', () => result.answered++);
      req.on('error', () => undefined);
      // Cancelled by the server (receive timeout) or refused: take the slot again.
      req.on('close', () => {
        if (req.rstCode !== undefined && req.rstCode !== http2.constants.NGHTTP2_NO_ERROR) result.refused++;
        open(session);
      });
      req.write('{');
    } catch {
      result.refused++;
    }
  };
  for (let c = 0; c < (plan.connections ?? 1); c++) {
    const session = http2.connect(plan.url, { ca: readFileSync(plan.ca!) });
    session.on('error', () => undefined);
    session.on('goaway', () => (result.goaway = true));
    sessions.push(session);
    await new Promise((r) => session.once('remoteSettings', r));
    result.advertisedMaxConcurrentStreams = session.remoteSettings.maxConcurrentStreams;
    for (let i = 0; i < Math.min(plan.count, result.advertisedMaxConcurrentStreams ?? 100); i++) open(session);
  }
  announceStarted();
  await sleep(plan.holdMs);
  stopping = true;
  const seen = { ...result };
  for (const s of sessions) s.destroy();
  return seen;
}

async function connections(): Promise<FloodResult> {
  const started = Date.now();
  const result: FloodResult = (current = { mode: plan.mode, refused: 0, answered: 0, goaway: false, closedByServer: 0 });
  const sockets: net.Socket[] = [];
  for (let i = 0; i < plan.count; i++) {
    const s = net.connect({
      host: plan.host ?? '127.0.0.1',
      port: plan.port!,
      ...(plan.localAddress === undefined ? {} : { localAddress: plan.localAddress }),
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      result.closedByServer!++;
      result.firstCloseMs ??= Date.now() - started;
    });
    sockets.push(s);
    // Let the accept queue drain now and then, as a real flood over time would.
    if (i % 100 === 99) await sleep(2);
  }
  announceStarted();
  await sleep(plan.holdMs);
  const seen = { ...result };
  for (const s of sockets) s.destroy();
  return seen;
}

const run = plan.mode === 'h2-streams' ? h2Streams : plan.mode === 'h2-reset' ? h2Reset : plan.mode === 'h2-hold' ? h2Hold : connections;
const result = await run();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
