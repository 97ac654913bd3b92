/**
 * The KMIP provider when servers fail: a restart in the middle of a run, a server that is
 * down, a server that hangs (SIGSTOP), and a two-server cluster with failover. The two
 * PyKMIP servers share one SQLite file, so they hold the same keys like a vendor cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallContext } from '../../src/xks/key-provider-port.ts';
import { createKmipKey } from '../../src/providers/kmip/kmip-key-admin.ts';
import { createKmipProvider, openKmipCluster } from '../../src/providers/kmip/kmip-provider.ts';
import { findFreePort, type PykmipServer } from '../../src/providers/kmip/pykmip-process.ts';
import { createPykmipEnv, type PykmipEnv } from '../support/pykmip.ts';
import { callContextWithin } from '../../src/xks/call-context.ts';

/** The XKS budget the proxy gives a call (KMS waits 250 ms in all). */
const BUDGET_MS = 240;
/** Slack for timers and the event loop on a shared 2-core machine. */
const SLACK_MS = 120;

function ctx(ms = BUDGET_MS): CallContext {
  return { deadline: Date.now() + ms, signal: AbortSignal.timeout(ms) };
}
const v0 = (keyId: string) => ({ keyId, version: 0 });
const AAD = Buffer.from('resilience');

async function timed<T>(p: Promise<T>): Promise<{ ms: number; value?: T; error?: { errorName?: string; message: string; logDetail?: string } }> {
  const started = Date.now();
  try {
    const value = await p;
    return { ms: Date.now() - started, value };
  } catch (e) {
    return { ms: Date.now() - started, error: e as { errorName?: string; message: string; logDetail?: string } };
  }
}

let env: PykmipEnv;
let a: PykmipServer;
let b: PykmipServer;

beforeAll(async () => {
  env = await createPykmipEnv();
  // Started one after the other: two servers creating the shared schema at once collide.
  a = await env.startServer();
  b = await env.startServer();
  const admin = await openKmipCluster(env.providerConfig([a]), env.deps());
  const limit = callContextWithin(10_000);
  await createKmipKey(admin.servers[0]!, limit, 'foo', ['ENCRYPT', 'DECRYPT']);
  await createKmipKey(admin.servers[0]!, limit, 'xks-proxy-health-canary', ['ENCRYPT', 'DECRYPT']);
  admin.close();
}, 60_000);

afterAll(async () => {
  await env?.cleanup();
});

describe('KMIP provider: one server restarts in the middle of a run', () => {
  it('fails fast while the server is down and recovers by itself when it is back', async () => {
    const provider = createKmipProvider(env.providerConfig([a]), env.deps());
    await provider.init();
    try {
      const before = await provider.encrypt(v0('foo'), Buffer.from('made before the restart'), AAD, ctx());
      const outcomes: Array<{ at: number; ms: number; ok: boolean; errorName?: string }> = [];
      const started = Date.now();
      let stop = false;
      const load = (async () => {
        while (!stop) {
          const r = await timed(
            (async () => {
              const out = await provider.encrypt(v0('foo'), Buffer.from('load'), AAD, ctx());
              return provider.decrypt(v0('foo'), out, AAD, ctx());
            })(),
          );
          outcomes.push({ at: Date.now() - started, ms: r.ms, ok: r.error === undefined, errorName: r.error?.errorName });
          if (r.error !== undefined) await new Promise((res) => setTimeout(res, 20));
        }
      })();
      await new Promise((res) => setTimeout(res, 700));
      a = await env.restartServer(a, { downMs: 800 });
      const restartedAt = Date.now() - started;
      await new Promise((res) => setTimeout(res, 700));
      stop = true;
      await load;

      expect(outcomes.filter((o) => o.at < 600).every((o) => o.ok)).toBe(true);
      const failures = outcomes.filter((o) => !o.ok);
      expect(failures.length).toBeGreaterThan(0);
      // A down server is a quick, named failure, never a hang past the budget (two calls per round trip).
      for (const f of failures) {
        expect(['InternalException', 'DependencyTimeoutException']).toContain(f.errorName);
        expect(f.ms).toBeLessThan(2 * BUDGET_MS + SLACK_MS);
      }
      expect(outcomes.filter((o) => o.at > restartedAt + 100).every((o) => o.ok)).toBe(true);
      expect(outcomes.filter((o) => o.at > restartedAt).length).toBeGreaterThan(5);
      // Keys live in the server's database: the old ciphertext still decrypts.
      expect(Buffer.from(await provider.decrypt(v0('foo'), before, AAD, ctx())).toString()).toBe('made before the restart');
    } finally {
      await provider.close();
    }
  }, 30_000);
});

describe('KMIP provider: a server that is down', () => {
  it('reports health UNAVAILABLE and fails calls with a clear error, quickly', async () => {
    const port = await findFreePort();
    const provider = createKmipProvider(env.providerConfig([port]), env.deps());
    await provider.init();
    try {
      const health = await timed(provider.health(ctx()));
      expect(health.value).toEqual([expect.objectContaining({ id: 'kmip-1', healthStatus: 'UNAVAILABLE' })]);
      expect(health.value?.[0]?.detail).toContain('ECONNREFUSED');
      const call = await timed(provider.encrypt(v0('foo'), Buffer.from('x'), AAD, ctx()));
      expect(call.error?.errorName).toBe('InternalException');
      // The client learns where to look; the per-server reason is in the operator's log only.
      expect(call.error?.message).toMatch(/No KMIP server could complete the call; the proxy log lists each server/);
      expect(call.error?.message).not.toContain('ECONNREFUSED');
      expect(call.error?.logDetail).toBe('No KMIP server completed the call (kmip-1: connection failed (ECONNREFUSED)).');
      expect(call.ms).toBeLessThan(BUDGET_MS);
    } finally {
      await provider.close();
    }
  });
});

describe('KMIP provider: a server that hangs', () => {
  it('gives up at the deadline with DependencyTimeoutException, for pooled and new connections', async () => {
    const provider = createKmipProvider(env.providerConfig([b]), env.deps());
    await provider.init();
    try {
      await provider.describe('foo', ctx());
      b.suspend();
      // First on the warm pooled connection, then on a new one whose TLS handshake never completes.
      for (let i = 0; i < 2; i++) {
        const call = await timed(provider.encrypt(v0('foo'), Buffer.from('x'), AAD, ctx()));
        expect(call.error?.errorName).toBe('DependencyTimeoutException');
        expect(call.ms).toBeGreaterThanOrEqual(BUDGET_MS - 5);
        expect(call.ms).toBeLessThan(BUDGET_MS + SLACK_MS);
      }
      const health = await timed(provider.health(ctx()));
      expect(health.value?.[0]?.healthStatus).toBe('UNAVAILABLE');
      expect(health.ms).toBeLessThan(BUDGET_MS + SLACK_MS);
    } finally {
      b.resume();
    }
    try {
      const out = await provider.encrypt(v0('foo'), Buffer.from('after resume'), AAD, ctx(2_000));
      expect(Buffer.from(await provider.decrypt(v0('foo'), out, AAD, ctx(2_000))).toString()).toBe('after resume');
    } finally {
      await provider.close();
    }
  });
});

describe('KMIP provider: a cluster of two servers', () => {
  it('reports one health entry per server', async () => {
    const provider = createKmipProvider(env.providerConfig([a, b]), env.deps());
    await provider.init();
    try {
      expect(await provider.health(ctx(2_000))).toEqual([
        { id: 'kmip-1', model: 'PyKMIP 0.10.0 Software Server', healthStatus: 'ACTIVE' },
        { id: 'kmip-2', model: 'PyKMIP 0.10.0 Software Server', healthStatus: 'ACTIVE' },
      ]);
    } finally {
      await provider.close();
    }
  });

  it('fails over within the budget when the first server hangs', async () => {
    const provider = createKmipProvider(env.providerConfig([a, b], { attemptTimeoutMs: 80 }), env.deps());
    await provider.init();
    try {
      const made = await provider.encrypt(v0('foo'), Buffer.from('via the first server'), AAD, ctx());
      a.suspend();
      const call = await timed(provider.decrypt(v0('foo'), made, AAD, ctx()));
      expect(call.error).toBeUndefined();
      expect(Buffer.from(call.value!).toString()).toBe('via the first server');
      expect(call.ms).toBeLessThan(BUDGET_MS);
      // The hung server is now in back-off: the next call goes straight to the second one.
      const next = await timed(provider.encrypt(v0('foo'), Buffer.from('x'), AAD, ctx()));
      expect(next.error).toBeUndefined();
      expect(next.ms).toBeLessThan(80);
    } finally {
      a.resume();
      await provider.close();
    }
  });

  it('keeps serving when the first server dies and reports it UNAVAILABLE', async () => {
    const provider = createKmipProvider(env.providerConfig([a, b]), env.deps());
    await provider.init();
    try {
      const made = await provider.encrypt(v0('foo'), Buffer.from('before the crash'), AAD, ctx());
      a.kill();
      await a.exited$();
      const call = await timed(provider.decrypt(v0('foo'), made, AAD, ctx()));
      expect(call.error).toBeUndefined();
      expect(Buffer.from(call.value!).toString()).toBe('before the crash');
      const health = await provider.health(ctx());
      expect(health.map((h) => [h.id, h.healthStatus])).toEqual([
        ['kmip-1', 'UNAVAILABLE'],
        ['kmip-2', 'ACTIVE'],
      ]);
      // Back on its port with the same database, the first server is used again.
      a = await env.restartServer(a);
      expect((await provider.health(ctx(2_000))).map((h) => h.healthStatus)).toEqual(['ACTIVE', 'ACTIVE']);
    } finally {
      await provider.close();
    }
  }, 30_000);
});
