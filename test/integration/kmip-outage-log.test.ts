/**
 * Issue 15 item 10: with one KMIP server, every failed request logged "KMIP server failed;
 * trying the next one" (there was no next one), a line per request in a flood. Now a
 * server's failure is logged once per outage, "trying the next one" only when another
 * server is left, and its return once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyProvider } from '../../src/xks/key-provider-port.ts';
import { createKmipKey } from '../../src/providers/kmip/kmip-key-admin.ts';
import { createKmipProvider, openKmipCluster } from '../../src/providers/kmip/kmip-provider.ts';
import { findFreePort, type PykmipServer } from '../../src/providers/kmip/pykmip-process.ts';
import { budget, errorNameOf, memoryLogger } from '../support/pkcs11-provider-harness.ts';
import { createPykmipEnv, type PykmipEnv } from '../support/pykmip.ts';
import { callContextWithin } from '../../src/xks/call-context.ts';

let env: PykmipEnv;
const providers: KeyProvider[] = [];

beforeAll(async () => {
  env = await createPykmipEnv();
}, 30_000);
afterAll(async () => {
  await Promise.allSettled(providers.map((p) => p.close()));
  await env?.cleanup();
});

async function start(ports: number[]) {
  const log = memoryLogger();
  const provider = createKmipProvider(env.providerConfig(ports, { downBackoffMs: 100 }), { logger: log.logger, configDir: env.dir, env: process.env });
  providers.push(provider);
  await provider.init();
  const messages = () => log.lines().map((l) => String(l.msg));
  return { provider, messages };
}

async function failMany(provider: KeyProvider, n: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    // Encrypt always calls the server (describe may be answered from the attribute cache).
    names.push(await errorNameOf(provider.encrypt({ keyId: 'foo', version: 0 }, Buffer.from('p'), Buffer.from('a'), budget(1000))));
    await new Promise((r) => setTimeout(r, 20)); // past downBackoffMs now and then: the server is retried
  }
  return names;
}

describe('KMIP server failure logging', () => {
  it('one server: never "trying the next one", one line per outage, one when it answers again', async () => {
    const port = await findFreePort();
    const { provider, messages } = await start([port]);
    const names = await failMany(provider, 20);
    expect(names.filter((n) => n !== 'InternalException' && n !== 'DependencyTimeoutException')).toEqual([]);
    expect(messages().filter((m) => m.includes('trying the next one'))).toEqual([]);
    expect(messages().filter((m) => m.startsWith('KMIP server failed'))).toEqual([
      'KMIP server failed; no other KMIP server to try (logged once until it answers again)',
    ]);

    // The server comes up on that port (a real PyKMIP) and answers: logged once.
    const server: PykmipServer = await env.startServer({ port });
    const admin = await openKmipCluster(env.providerConfig([server]), env.deps());
    await createKmipKey(admin.servers[0]!, callContextWithin(10_000), 'foo', ['ENCRYPT', 'DECRYPT']);
    admin.close();
    let answered = false;
    for (let i = 0; i < 50 && !answered; i++) {
      answered = (await errorNameOf(provider.describe('foo', budget(2000)))) === 'no error';
      if (!answered) await new Promise((r) => setTimeout(r, 100));
    }
    expect(answered).toBe(true);
    expect(messages().filter((m) => m === 'KMIP server answers again')).toHaveLength(1);

    // A second outage is a new line, again only one.
    server.kill();
    await server.exited$();
    await failMany(provider, 10);
    expect(messages().filter((m) => m.startsWith('KMIP server failed'))).toHaveLength(2);
  }, 60_000);

  it('two servers: "trying the next one" once for the first, not per request', async () => {
    const { provider, messages } = await start([await findFreePort(), await findFreePort()]);
    await failMany(provider, 20);
    expect(messages().filter((m) => m.includes('trying the next one'))).toHaveLength(1);
    expect(messages().filter((m) => m.includes('no other KMIP server to try'))).toHaveLength(1);
  });
});
