/**
 * The headers SigV4 sees on a real HTTP/1.1 socket. Without a repeated header the proxy
 * verifies against Node's own header object; with one it builds the map itself, because
 * there Node's object differs (it keeps only the first Authorization or Host and joins
 * cookies with "; "). A duplicated Authorization must stay a refusal, and a client-chosen
 * SignedHeaders name such as `constructor` must be an absent header, never a 500.
 */
import net from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

let fx: SoftwareFixture;
let proxy: RunningProxy;
let port: number;

beforeAll(async () => {
  fx = await createSoftwareFixture();
  const raw = softwareConfig(fx.keystorePath, fx.kekHex, { server: { host: '127.0.0.1', port: 0 } });
  proxy = await startProxy({ config: parseConfig(raw, 'test.yaml'), file: 'test.yaml', configDir: fx.dir }, { logger: pino({ level: 'silent' }) });
  port = proxy.listener.address.port;
});
afterAll(async () => {
  await proxy?.close();
  await fx?.cleanup();
});

/** Sends one request with exactly these header lines (in order, repeats kept); resolves with status and body. */
function send(path: string, headerLines: Array<[string, string]>, body: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const head = [`POST ${path} HTTP/1.1`, ...headerLines.map(([n, v]) => `${n}: ${v}`), `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: Number(text.split(' ')[1]), body: JSON.parse(text.slice(split + 4)) as Record<string, unknown> });
    });
  });
}

const path = xksPath(DEMO_PREFIX, 'metadata');
const body = JSON.stringify({ requestMetadata: requestMetadata('DescribeKey') });

/** The signed request's headers as header lines; `host` is what the client signs and sends. */
function signedLines(): Array<[string, string]> {
  const host = `127.0.0.1:${port}`;
  return Object.entries(signXks(path, body, { host })).filter(([name]) => name.toLowerCase() !== 'content-length');
}

describe('SigV4 over HTTP/1.1 with and without repeated headers', () => {
  it('a signed request with no header repeated is answered', async () => {
    const res = await send(path, signedLines(), body);
    expect(res.status).toBe(200);
    expect(res.body.keyStatus).toBe('ENABLED');
  });

  it('a repeated unsigned header does not change the verdict', async () => {
    const res = await send(path, [...signedLines(), ['X-Trace', 'a'], ['X-Trace', 'b']], body);
    expect(res.status).toBe(200);
  });

  it('a second Authorization header after a valid one is refused (Node alone would keep only the first)', async () => {
    const lines = signedLines();
    const authorization = lines.find(([n]) => n.toLowerCase() === 'authorization')![1];
    const res = await send(path, [...lines, ['Authorization', authorization.replace(/Signature=\w+/, `Signature=${'0'.repeat(64)}`)]], body);
    expect(res.status).toBe(401);
    expect(res.body.errorName).toBe('AuthenticationFailedException');
  });

  it('a second Host header is part of what is verified (joined, so the signature no longer matches)', async () => {
    const res = await send(path, [...signedLines(), ['Host', 'attacker.example']], body);
    expect(res.status).toBe(401);
  });

  it('SignedHeaders naming constructor or __proto__ is a missing header (401), not a crash', async () => {
    for (const name of ['constructor', '__proto__']) {
      const lines = signedLines().map(([n, v]): [string, string] =>
        n.toLowerCase() === 'authorization' ? [n, v.replace('SignedHeaders=', `SignedHeaders=${name};`)] : [n, v],
      );
      const res = await send(path, lines, body);
      expect(res.status, name).toBe(401);
      expect(res.body.errorName).toBe('AuthenticationFailedException');
    }
  });
});
