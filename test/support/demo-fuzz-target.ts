/**
 * A proxy serving a demo key manager (as `npm run demo:softhsm` / `demo:kmip` set it up)
 * in a private temp dir, quiet, on a free loopback port: what the per-provider fuzz tests run against.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { prepareDemo, type DemoProvider } from '../../src/cli/demo-command.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';

/** The demo keys every demo key manager holds. */
export const DEMO_KEY_IDS = ['foo', 'encrypt_only_key', 'decrypt_only_key', 'impotent_key'];

/** A running demo proxy and how to stop it with its key manager. */
export interface DemoProxy {
  proxy: RunningProxy;
  port: number;
  stop(): Promise<void>;
}

export async function startDemoProxy(provider: DemoProvider): Promise<DemoProxy> {
  const dataDir = await mkdtemp(join(tmpdir(), `xks-fuzz-${provider}-`));
  const demo = await prepareDemo(provider, dataDir);
  demo.loaded.config.logging = { ...demo.loaded.config.logging, level: 'silent' };
  // A generous budget: CI machines are busy, and the fuzz is about answers, not latency.
  demo.loaded.config.server = { ...demo.loaded.config.server, requestTimeoutMs: 2000 };
  let proxy: RunningProxy;
  try {
    proxy = await startProxy(demo.loaded, { port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }) });
  } catch (e) {
    await demo.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    proxy,
    port: Number(new URL(proxy.url).port),
    async stop() {
      await proxy.close();
      await demo.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
