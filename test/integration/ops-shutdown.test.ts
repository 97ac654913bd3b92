import { describe, expect, it } from 'vitest';
import type { ServingProcess } from '../support/cli-process.ts';
import {
  createOpsDirForTest,
  DEMO_PREFIX,
  demoConfig,
  encryptBody,
  encryptCall,
  logLines,
  startServingForTest,
  startSlowCall,
  waitFor,
  xksPath,
} from './ops-fixture.ts';

function exitOf(p: ServingProcess): Promise<number | null> {
  return p.child.exitCode !== null ? Promise.resolve(p.child.exitCode) : new Promise((r) => p.child.once('exit', (code) => r(code)));
}

function lastLog(p: ServingProcess, msg: string): Record<string, unknown> | undefined {
  return logLines(p.output())
    .filter((l) => l.msg === msg)
    .at(-1);
}

describe('graceful shutdown on SIGTERM', () => {
  it('refuses new connections, finishes the request in flight, closes providers and exits 0', async () => {
    const d = await createOpsDirForTest();
    await d.writeConfig(demoConfig(d));
    const proc = await startServingForTest(['serve', '-c', d.configFile, '--workers', '1']);
    const url = proc.url;
    expect((await encryptCall(url)).status).toBe(200);
    const slow = await startSlowCall(url, xksPath(DEMO_PREFIX, 'encrypt'), encryptBody('finish me'));
    const exited = exitOf(proc);

    proc.child.kill('SIGTERM');
    await waitFor(() => lastLog(proc, 'shutting down: no new connections; finishing requests in flight') !== undefined, 10_000, 'shutdown to start');
    expect(lastLog(proc, 'shutting down: no new connections; finishing requests in flight')).toMatchObject({ inFlight: 1 });
    await expect(encryptCall(url, DEMO_PREFIX, { agent: undefined })).rejects.toThrow(/ECONNREFUSED|ECONNRESET|socket hang up/);
    await new Promise((r) => setTimeout(r, 300));
    expect(proc.child.exitCode).toBeNull();

    const answer = await slow.finish();
    expect(answer.status).toBe(200);
    expect(answer.json).toHaveProperty('ciphertext');
    expect(await exited).toBe(0);
    expect(lastLog(proc, 'shutdown complete')).toMatchObject({ drained: true, abandoned: 0 });
  }, 60_000);

  it('stops waiting for a request that never completes after shutdown.drainTimeoutMs and still exits 0', async () => {
    const d = await createOpsDirForTest();
    await d.writeConfig(demoConfig(d, { shutdown: { drainTimeoutMs: 1000 } }));
    const proc = await startServingForTest(['serve', '-c', d.configFile, '--workers', '1']);
    await startSlowCall(proc.url, xksPath(DEMO_PREFIX, 'encrypt'), encryptBody('never finished'));
    const exited = exitOf(proc);
    const started = Date.now();
    proc.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(took).toBeLessThan(6000);
    expect(lastLog(proc, 'shutdown complete')).toMatchObject({ drained: false, abandoned: 1 });
  }, 60_000);

  it('exits 0 at once when idle, under serve --workers 2 too', async () => {
    const d = await createOpsDirForTest();
    await d.writeConfig(demoConfig(d));
    const proc = await startServingForTest(['serve', '-c', d.configFile, '--workers', '2']);
    expect((await encryptCall(proc.url)).status).toBe(200);
    const started = Date.now();
    expect(await proc.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(logLines(proc.output()).filter((l) => l.msg === 'shutdown complete')).toHaveLength(2);
  }, 60_000);
});
