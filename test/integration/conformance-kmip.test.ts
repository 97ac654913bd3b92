/**
 * The conformance harness against our proxy in front of a real PyKMIP server (the setup of
 * `npm run demo:kmip`), so the KMIP provider is held to the same spec checks as the others.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { runConformance } from '../../conformance/run.ts';
import { prepareDemo } from '../../src/cli/demo-command.ts';
import { startProxy, type RunningProxy } from '../../src/server/start-proxy.ts';

let dataDir: string;
let stopDemo: (() => Promise<void>) | undefined;
let proxy: RunningProxy | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'xks-kmip-conf-'));
  const demo = await prepareDemo('kmip', dataDir);
  stopDemo = demo.stop;
  proxy = await startProxy(demo.loaded, { port: 0, logger: pino({ level: 'silent' }) });
}, 120_000);
afterAll(async () => {
  await proxy?.close();
  await stopDemo?.();
  await rm(dataDir, { recursive: true, force: true });
});

describe('conformance harness against the KMIP provider (real PyKMIP)', () => {
  it('passes every MUST check', async () => {
    const report = await runConformance({ endpoint: proxy!.url });
    expect(report.results.filter((r) => r.status === 'fail').map((r) => `${r.id}: ${r.detail ?? ''}`)).toEqual([]);
    expect(report.summary.conformant).toBe(true);
  }, 180_000);
});
