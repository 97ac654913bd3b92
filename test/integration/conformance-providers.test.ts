/**
 * The conformance harness against our proxy in front of each real key manager, set up as
 * its demo sets it up: a SoftHSM2 token (`npm run demo:softhsm`), an NSS softoken database
 * (`npm run demo:nss`) and a PyKMIP server (`npm run demo:kmip`), so every provider is held
 * to the same spec checks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { runConformance } from '../../conformance/run.ts';
import { prepareDemo, type DemoProvider } from '../../src/cli/demo-command.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';

describe.each<DemoProvider>(['softhsm', 'nss', 'kmip'])('conformance harness against the %s provider', (provider) => {
  let dataDir: string;
  let stopDemo: (() => Promise<void>) | undefined;
  let proxy: RunningProxy | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), `xks-conformance-${provider}-`));
    const demo = await prepareDemo(provider, dataDir);
    stopDemo = demo.stop;
    proxy = await startProxy(demo.loaded, { port: 0, logger: pino({ level: 'silent' }) });
  }, 120_000);
  afterAll(async () => {
    await proxy?.close();
    await stopDemo?.();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('passes every MUST check', async () => {
    const report = await runConformance({ endpoint: proxy!.url });
    expect(report.results.filter((r) => r.status === 'fail').map((r) => `${r.id}: ${r.detail ?? ''}`)).toEqual([]);
    expect(report.summary.conformant).toBe(true);
  }, 180_000);
});
