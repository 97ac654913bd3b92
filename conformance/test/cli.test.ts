import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliMain } from '../src/cli-main.ts';
import type { CliIo } from '../src/cli-main.ts';
import { startReferenceServer } from './support/reference-xks-server.ts';
import type { ReferenceServer } from './support/reference-xks-server.ts';

function captureIo(env: Record<string, string> = {}): CliIo & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', env, isTty: false, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

describe('the conformance CLI', () => {
  let good: ReferenceServer;
  let broken: ReferenceServer;
  let dir: string;
  beforeAll(async () => {
    good = await startReferenceServer();
    broken = await startReferenceServer({ breakages: ['reuse-iv'] });
    dir = await mkdtemp(join(tmpdir(), 'xks-conformance-cli-'));
  });
  afterAll(async () => {
    await Promise.all([good.close(), broken.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 with a text report when every MUST check passes', async () => {
    const io = captureIo();
    expect(await cliMain(['--endpoint', good.endpoint, '--only', 'health,crypto'], io)).toBe(0);
    expect(io.stdout).toMatch(/^XKS proxy conformance: http:\/\/127\.0\.0\.1:\d+ {2}\(prefix "example\/uri\/path\/prefix"\)/);
    expect(io.stdout).toMatch(/Summary: 8 passed, 0 failed, 0 warnings \(SHOULD\), 0 skipped in [\d.]+ s: CONFORMANT/);
  });

  it('exits 1 and prints JSON and JUnit when a MUST check fails', async () => {
    const junit = join(dir, 'report.xml');
    const io = captureIo();
    expect(
      await cliMain(['--endpoint', broken.endpoint, '--only', 'crypto.iv-unique,crypto.round-trip', '--iv-samples', '16', '--json', '--junit', junit], io),
    ).toBe(1);
    const report = JSON.parse(io.stdout) as { summary: { conformant: boolean }; results: Array<{ id: string; status: string; detail?: string }> };
    expect(report.summary.conformant).toBe(false);
    expect(report.results.find((r) => r.id === 'crypto.iv-unique')).toMatchObject({ status: 'fail', detail: '15 repeated IVs in 16 encryptions' });
    expect(await readFile(junit, 'utf8')).toContain('<failure type="MUST" message="15 repeated IVs in 16 encryptions">');
  });

  it('takes the credentials from the environment when not given as flags', async () => {
    const io = captureIo({ XKS_ACCESS_KEY_ID: 'WRONGACCESSKEYID2345', XKS_SECRET_ACCESS_KEY: 'x'.repeat(43) });
    expect(await cliMain(['--endpoint', good.endpoint, '--only', 'health.schema'], io)).toBe(1);
    expect(io.stdout).toContain('401 AuthenticationFailedException');
  });

  it('exits 2 for unknown flags, a lone --cert and a selection that matches nothing', async () => {
    for (const args of [['--bogus'], ['--cert', 'x.pem'], ['--endpoint', good.endpoint, '--only', 'nothing-matches']]) {
      const io = captureIo();
      expect(await cliMain(args, io)).toBe(2);
      expect(io.stderr.length).toBeGreaterThan(0);
    }
  });

  it('reports achieved rate, percentiles and errors in load mode', async () => {
    const io = captureIo();
    expect(await cliMain(['--endpoint', good.endpoint, '--load', '--rate', '200', '--duration', '1s', '--json'], io)).toBe(0);
    const r = JSON.parse(io.stdout) as Record<string, unknown> & { latency: { p50: number; p99: number; max: number } };
    expect(r).toMatchObject({ requestedRate: 200, sent: 200, completed: 200, ok: 200, errors: {}, withinBudget: true, passed: true });
    expect(r.latency.p50).toBeLessThanOrEqual(r.latency.p99);
    expect(r.latency.p99).toBeLessThanOrEqual(r.latency.max);
  });

  it('counts load errors by errorName and fails the load run', async () => {
    const io = captureIo();
    // The encrypt-only key encrypts for the warm-up (no CDIV), but the load's encrypts ask for a
    // CDIV, which needs DECRYPT too, so those 45% and the 45% decrypts are usage errors.
    expect(await cliMain(['--endpoint', good.endpoint, '--key', 'encrypt_only_key', '--load', '--rate', '100', '--duration', '1s'], io)).toBe(1);
    expect(io.stdout).toMatch(/\n {4}InvalidKeyUsageException +90\n/);
    expect(io.stdout).toMatch(/\n {2}ok +10\n/);
    expect(io.stdout).toMatch(/Result: FAIL/);
  });

  it('stops load mode with exit 2 when the warm-up cannot encrypt', async () => {
    const io = captureIo({ XKS_SECRET_ACCESS_KEY: 'y'.repeat(43) });
    expect(await cliMain(['--endpoint', good.endpoint, '--load', '--rate', '50', '--duration', '1s'], io)).toBe(2);
    expect(io.stderr).toContain('load warm-up encrypt: expected 200, got 401 AuthenticationFailedException');
  });

  it('runs as `tsx conformance/cli.ts` and exits with the verdict', async () => {
    const code = await new Promise<number>((resolve) => {
      execFile('npx', ['tsx', 'conformance/cli.ts', '--endpoint', broken.endpoint, '--only', 'crypto.iv-unique', '--iv-samples', '8'], () => undefined).on(
        'exit',
        (c) => resolve(c ?? -1),
      );
    });
    expect(code).toBe(1);
  });
});
