/**
 * Health learns from live traffic (issue 15, item 9): with the default 30 s health cache,
 * a KMIP server that hangs (SIGSTOP) or dies must show in GetHealthStatus and /ready as
 * soon as a live request fails, and ACTIVE must come back as soon as a call succeeds.
 * A real PyKMIP server behind the whole proxy (app, SigV4, key store, provider).
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { createKmipKey } from '../../src/providers/kmip/kmip-key-admin.ts';
import { openKmipCluster } from '../../src/providers/kmip/kmip-provider.ts';
import type { PykmipServer } from '../../src/providers/kmip/pykmip-process.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createPykmipEnv, type PykmipEnv } from '../support/pykmip.ts';
import { decryptRequestBody, DEMO_CREDENTIAL, DEMO_PREFIX, encryptRequestBody, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';
import { callContextWithin } from '../../src/xks/call-context.ts';

let env: PykmipEnv;
let server: PykmipServer;
let proxy: RunningProxy;

beforeAll(async () => {
  env = await createPykmipEnv();
  server = await env.startServer();
  const admin = await openKmipCluster(env.providerConfig([server]), env.deps());
  const limit = callContextWithin(10_000);
  await createKmipKey(admin.servers[0]!, limit, 'foo', ['ENCRYPT', 'DECRYPT']);
  await createKmipKey(admin.servers[0]!, limit, 'xks-proxy-health-canary', ['ENCRYPT', 'DECRYPT']);
  admin.close();
  const file = `${env.dir}/xks-proxy.yaml`;
  const config = parseConfig(
    {
      server: { host: '127.0.0.1', port: 0, requestTimeoutMs: 250 },
      // health.cacheSeconds is left at its default, 30 s: the case the issue describes.
      keyStores: [
        {
          prefix: DEMO_PREFIX,
          region: 'us-east-1',
          credentials: [{ accessKeyId: DEMO_CREDENTIAL.accessKeyId, secretAccessKey: DEMO_CREDENTIAL.secretAccessKey }],
          provider: {
            type: 'kmip',
            servers: [{ id: 'kmip-1', host: '127.0.0.1', port: server.port, serverName: 'localhost' }],
            tls: { ca: env.pki.caCert, cert: env.pki.clientCert, key: env.pki.clientKey },
          },
        },
      ],
    },
    file,
  );
  expect(config.health.cacheSeconds).toBe(30);
  proxy = await startProxy({ config, file, configDir: env.dir }, { logger: pino({ level: 'silent' }) });
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await env?.cleanup();
});

async function call(path: string, body: unknown) {
  const text = JSON.stringify(body);
  const headers = signXks(path, text, { host: new URL(proxy.url).host });
  delete headers['content-length'];
  const res = await fetch(`${proxy.url}${path}`, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

async function roundTrip() {
  const enc = await call(xksPath(DEMO_PREFIX, 'encrypt'), encryptRequestBody('live health'));
  if (enc.status !== 200) return enc;
  return call(xksPath(DEMO_PREFIX, 'decrypt'), decryptRequestBody(enc.json));
}

async function health(): Promise<string> {
  const r = await call(xksPath(DEMO_PREFIX, 'health'), { requestMetadata: requestMetadata('KmsHealthCheck') });
  expect(r.status).toBe(200);
  return r.json.ekmFleetDetails[0].healthStatus as string;
}

async function ready(): Promise<{ status: number; ekm: string }> {
  const res = await fetch(`${proxy.url}/ready`);
  const body = (await res.json()) as { keyStores: Array<{ ekm: Array<{ healthStatus: string }> }> };
  return { status: res.status, ekm: body.keyStores[0]!.ekm[0]!.healthStatus };
}

/** Repeats `get` until `ok` holds, at most `ms`; returns the last value. */
async function until<T>(get: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const started = Date.now();
  let v = await get();
  while (!ok(v) && Date.now() - started < ms) {
    await new Promise((r) => setTimeout(r, 50));
    v = await get();
  }
  return v;
}

describe('health follows live KMIP failures at once, despite the 30 s cache', () => {
  it('a hung server (SIGSTOP): the first failed request turns health not ACTIVE; the first success restores it', async () => {
    expect((await roundTrip()).status).toBe(200);
    expect(await health()).toBe('ACTIVE');
    expect(await ready()).toEqual({ status: 200, ekm: 'ACTIVE' });

    server.suspend();
    try {
      const failed = await roundTrip();
      expect(failed.status).toBe(503);
      expect(failed.json.errorName).toBe('DependencyTimeoutException');
      // No waiting: the very next health answers, from the cache, know.
      expect(await health()).not.toBe('ACTIVE');
      expect((await ready()).ekm).not.toBe('ACTIVE');
      expect(await health()).not.toBe('ACTIVE');
    } finally {
      server.resume();
    }
    // The server answers again: as soon as a call succeeds, health is ACTIVE again (a fresh
    // deep check runs at once), long before the 30 s cache would have expired.
    const ok = await until(roundTrip, (r) => r.status === 200, 10_000);
    expect(ok.status).toBe(200);
    const back = Date.now();
    expect(await until(health, (h) => h === 'ACTIVE', 5_000)).toBe('ACTIVE');
    expect(Date.now() - back).toBeLessThan(5_000);
    expect(await ready()).toEqual({ status: 200, ekm: 'ACTIVE' });
  }, 60_000);

  it('a dead server (killed): the failed request turns health not ACTIVE; a restarted server is ACTIVE after one success', async () => {
    expect(await until(roundTrip, (r) => r.status === 200, 10_000)).toMatchObject({ status: 200 });
    expect(await until(health, (h) => h === 'ACTIVE', 5_000)).toBe('ACTIVE');
    const port = server.port;
    server.kill();
    await server.exited$();
    const failed = await roundTrip();
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(await health()).not.toBe('ACTIVE');

    server = await env.startServer({ port });
    expect(await until(roundTrip, (r) => r.status === 200, 15_000)).toMatchObject({ status: 200 });
    expect(await until(health, (h) => h === 'ACTIVE', 5_000)).toBe('ACTIVE');
  }, 60_000);
});
