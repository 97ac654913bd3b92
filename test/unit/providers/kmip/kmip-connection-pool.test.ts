/**
 * Framing, deadlines and pooling of KMIP connections, against a real in-process mutual-TLS
 * server whose answers each test scripts (split, oversized, unsolicited, late, none).
 * The same code is tested against PyKMIP in test/integration/kmip-*.test.ts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KmipConnection, KmipConnectionError, KmipTimeoutError, type KmipTlsMaterial } from '../../../../src/providers/kmip/kmip-connection.ts';
import { KmipConnectionPool } from '../../../../src/providers/kmip/kmip-connection-pool.ts';
import { ttlvItemSize } from '../../../../src/providers/kmip/ttlv-decode.ts';
import { encodeTtlv } from '../../../../src/providers/kmip/ttlv-encode.ts';
import { KmipProtocolError, textString } from '../../../../src/providers/kmip/ttlv-item.ts';
import { createKmipPki } from '../../../../src/providers/kmip/pykmip-certificates.ts';
import { callContextWithin } from '../../../../src/xks/call-context.ts';

/** What the scripted server does with each complete request on a connection. */
type Behaviour = (socket: tls.TLSSocket, request: Buffer, index: number) => void;

const REQUEST = encodeTtlv(textString(0x420094, 'request'));
const RESPONSE = encodeTtlv(textString(0x420094, 'a response of some length'));

let dir: string;
let material: KmipTlsMaterial;
let serverOptions: tls.TlsOptions;
const servers: tls.Server[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xks-kmip-conn-'));
  const pki = await createKmipPki(dir);
  const [ca, cert, key, serverCert, serverKey] = await Promise.all(
    [pki.caCert, pki.clientCert, pki.clientKey, pki.serverCert, pki.serverKey].map((p) => readFile(p)),
  );
  material = { ca: ca!, cert: cert!, key: key!, minVersion: 'TLSv1.2' };
  serverOptions = { ca, cert: serverCert, key: serverKey, requestCert: true, rejectUnauthorized: true };
});

afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts a scripted server; returns its port and a live count of open connections. */
async function scriptedServer(behaviour: Behaviour, onConnect?: (socket: tls.TLSSocket) => void) {
  const stats = { open: 0, maxOpen: 0, accepted: 0, sockets: [] as tls.TLSSocket[] };
  const server = tls.createServer(serverOptions, (socket) => {
    stats.open++;
    stats.accepted++;
    stats.maxOpen = Math.max(stats.maxOpen, stats.open);
    stats.sockets.push(socket);
    socket.on('close', () => stats.open--);
    socket.on('error', () => {});
    onConnect?.(socket);
    let buffered = Buffer.alloc(0);
    let index = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 8 && buffered.length >= ttlvItemSize(buffered)) {
        const size = ttlvItemSize(buffered);
        behaviour(socket, buffered.subarray(0, size), index++);
        buffered = buffered.subarray(size);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, stats };
}

const endpoint = (port: number) => ({ host: '127.0.0.1', port, serverName: 'localhost' });
const soon = (ms = 1_000) => Date.now() + ms;

describe('KmipConnection', () => {
  it('reassembles a response that arrives one byte at a time', async () => {
    const { port } = await scriptedServer((socket) => {
      for (const byte of RESPONSE) socket.write(Buffer.of(byte));
    });
    const connection = await KmipConnection.open(endpoint(port), material, soon(), undefined, 1 << 20);
    expect((await connection.roundTrip(REQUEST, soon(), undefined)).equals(RESPONSE)).toBe(true);
    expect((await connection.roundTrip(REQUEST, soon(), undefined)).equals(RESPONSE)).toBe(true);
    connection.destroy();
  });

  it('refuses a response longer than the limit and closes the connection', async () => {
    const { port } = await scriptedServer((socket) => socket.write(Buffer.from('42009401ffffff00', 'hex')));
    const connection = await KmipConnection.open(endpoint(port), material, soon(), undefined, 1 << 20);
    await expect(connection.roundTrip(REQUEST, soon(), undefined)).rejects.toThrow(KmipProtocolError);
    expect(connection.alive).toBe(false);
  });

  it('closes a connection on which the server sends bytes nobody asked for', async () => {
    const { port } = await scriptedServer(
      () => {},
      (socket) => socket.write(RESPONSE),
    );
    const connection = await KmipConnection.open(endpoint(port), material, soon(), undefined, 1 << 20);
    await new Promise<void>((resolve) => connection.onClose(resolve));
    expect(connection.alive).toBe(false);
  });

  it('fails at the deadline when the server never answers, and does not reuse that connection', async () => {
    const { port } = await scriptedServer(() => {});
    const connection = await KmipConnection.open(endpoint(port), material, soon(), undefined, 1 << 20);
    const started = Date.now();
    await expect(connection.roundTrip(REQUEST, Date.now() + 150, undefined)).rejects.toThrow(KmipTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
    expect(Date.now() - started).toBeLessThan(400);
    expect(connection.alive).toBe(false);
  });

  it('fails at once when the call is aborted', async () => {
    const { port } = await scriptedServer(() => {});
    const connection = await KmipConnection.open(endpoint(port), material, soon(), undefined, 1 << 20);
    const abort = new AbortController();
    const pending = connection.roundTrip(REQUEST, soon(5_000), abort.signal);
    abort.abort();
    await expect(pending).rejects.toThrow(/aborted/);
  });

  it('refuses a server whose certificate does not name the configured server', async () => {
    const { port } = await scriptedServer(() => {});
    const error = await KmipConnection.open({ host: '127.0.0.1', port, serverName: 'kmip.example.com' }, material, soon(), undefined, 1 << 20).catch((e) => e);
    expect(error).toBeInstanceOf(KmipConnectionError);
    expect(error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('times out a TLS handshake that never completes', async () => {
    // A plain TCP listener: accepts the connection, never speaks TLS.
    const net = await import('node:net');
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      await expect(KmipConnection.open(endpoint((silent.address() as AddressInfo).port), material, Date.now() + 150, undefined, 1 << 20)).rejects.toThrow(
        KmipTimeoutError,
      );
      expect(Date.now() - started).toBeLessThan(400);
    } finally {
      silent.close();
    }
  });
});

describe('KmipConnectionPool', () => {
  it('keeps at most maxConnections open and serves every queued request', async () => {
    const { port, stats } = await scriptedServer((socket) => setTimeout(() => socket.write(RESPONSE), 30));
    const pool = new KmipConnectionPool(endpoint(port), material, { maxConnections: 2, idleTimeoutMs: 60_000, maxResponseBytes: 1 << 20 });
    try {
      const results = await Promise.all(Array.from({ length: 7 }, () => pool.roundTrip(REQUEST, callContextWithin(3_000), true)));
      expect(results.every((r) => r.equals(RESPONSE))).toBe(true);
      expect(stats.maxOpen).toBe(2);
      expect(stats.accepted).toBe(2);
    } finally {
      pool.close();
    }
  });

  it('gives up waiting for a free connection at the deadline', async () => {
    const { port } = await scriptedServer(() => {});
    const pool = new KmipConnectionPool(endpoint(port), material, { maxConnections: 1, idleTimeoutMs: 60_000, maxResponseBytes: 1 << 20 });
    try {
      const busy = pool.roundTrip(REQUEST, callContextWithin(500), true).catch((e) => e);
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      await expect(pool.roundTrip(REQUEST, callContextWithin(100), true)).rejects.toThrow(/no free KMIP connection/);
      expect(Date.now() - started).toBeLessThan(300);
      expect(await busy).toBeInstanceOf(KmipTimeoutError);
    } finally {
      pool.close();
    }
  });

  it('resends a repeatable request on a new connection when the pooled one was closed by the server while idle', async () => {
    const { port, stats } = await scriptedServer((socket, _request, index) => {
      // The first connection answers once and then drops every later request, as a server
      // that timed out an idle client would (without the client noticing first).
      if (stats.accepted === 1 && index > 0) socket.destroy();
      else socket.write(RESPONSE);
    });
    const pool = new KmipConnectionPool(endpoint(port), material, { maxConnections: 2, idleTimeoutMs: 60_000, maxResponseBytes: 1 << 20 });
    try {
      await pool.roundTrip(REQUEST, callContextWithin(1_000), true);
      expect((await pool.roundTrip(REQUEST, callContextWithin(1_000), true)).equals(RESPONSE)).toBe(true);
      expect(stats.accepted).toBe(2);
    } finally {
      pool.close();
    }
  });

  it('does not resend a request that is not safe to repeat', async () => {
    const { port, stats } = await scriptedServer((socket, _request, index) => {
      if (stats.accepted === 1 && index > 0) socket.destroy();
      else socket.write(RESPONSE);
    });
    const pool = new KmipConnectionPool(endpoint(port), material, { maxConnections: 2, idleTimeoutMs: 60_000, maxResponseBytes: 1 << 20 });
    try {
      await pool.roundTrip(REQUEST, callContextWithin(1_000), false);
      await expect(pool.roundTrip(REQUEST, callContextWithin(1_000), false)).rejects.toThrow(KmipConnectionError);
      expect(stats.accepted).toBe(1);
    } finally {
      pool.close();
    }
  });

  it('closes idle connections after the idle timeout', async () => {
    const { port, stats } = await scriptedServer((socket) => socket.write(RESPONSE));
    const pool = new KmipConnectionPool(endpoint(port), material, { maxConnections: 2, idleTimeoutMs: 100, maxResponseBytes: 1 << 20 });
    try {
      await pool.roundTrip(REQUEST, callContextWithin(1_000), true);
      expect(pool.size).toBe(1);
      await new Promise((r) => setTimeout(r, 250));
      expect(pool.size).toBe(0);
      expect(stats.open).toBe(0);
    } finally {
      pool.close();
    }
  });
});
