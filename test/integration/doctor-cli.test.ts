import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/diagnostics/doctor-report.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
// The doctor command in its own process, exactly as main.ts will run it (real exit code and stdout).
const ENTRY =
  "const { doctorCommand } = await import('./src/cli/doctor-command.ts'); await doctorCommand().parseAsync(process.argv.slice(1), { from: 'user' });";

function runDoctorCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', ENTRY, '--', ...args],
      { cwd: REPO, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

let fx: SoftwareFixture;
const QUICK = ['--skip', 'latency,end-to-end,clock'];

beforeAll(async () => {
  fx = await createSoftwareFixture();
});
afterAll(() => fx?.cleanup());

function config(name: string, credentials: unknown[]): string {
  const raw = softwareConfig(fx.keystorePath, fx.kekHex) as { keyStores: Array<Record<string, unknown>> };
  raw.keyStores[0]!.credentials = credentials;
  const file = join(fx.dir, `${name}.yaml`);
  writeFileSync(file, stringify(raw));
  return file;
}

describe('xks-proxy doctor command', () => {
  it('fails a malformed secret with one line naming the problem and the fix, without printing the secret', async () => {
    const secretFile = join(fx.dir, 'short-secret');
    writeFileSync(secretFile, 'tooShortSecret123\n');
    const file = config('short', [
      { accessKeyId: 'AKIDDOCTORTESTAAAAAAAAAA', secretAccessKey: `file:${secretFile}` },
      { accessKeyId: 'AKIDDOCTORTESTBBBBBBBBBB', secretAccessKey: 'env:DOCTOR_SECOND_SECRET' },
    ]);
    const res = await runDoctorCli(['--config', file, ...QUICK], { DOCTOR_SECOND_SECRET: 'k3Vq9Zs1x0Fh2Jd8Lm4Np6Rt7Uw5Yb0Ce3Gi1Ko9Qs2+' });
    expect(res.code).toBe(1);
    const line = res.stdout.split('\n').find((l) => l.startsWith('fail') && l.includes('credentials.format'));
    expect(line).toContain('AKIDDOCTORTESTAAAAAAAAAA');
    expect(line).toContain('17 characters');
    expect(line).toMatch(/Fix: generate a new credential .*\[KMS: INVALID_CREDENTIALS\]$/);
    expect(res.stdout).not.toContain('tooShortSecret123');
    expect(res.stdout).toMatch(/^ok +credentials\.format .*AKIDDOCTORTESTBBBBBBBBBB/m);
  });

  it('fails a malformed access key id at config load, naming the field', async () => {
    const file = config('bad-id', [{ accessKeyId: 'lowercase-is-wrong-0000', secretAccessKey: 'env:X' }]);
    const res = await runDoctorCli(['--config', file]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^fail +config\.load .*keyStores\.0\.credentials\.0\.accessKeyId: must be 20-30 characters of A-Z and 2-7/m);
  });

  it('prints the report as JSON with --json and exits 0 when nothing fails', async () => {
    const file = config('json', [{ accessKeyId: 'AKIDDOCTORTESTAAAAAAAAAA', secretAccessKey: 'env:S1', createdAt: '2020-01-01' }]);
    const res = await runDoctorCli(['--config', file, '--json', '--key', 'foo', ...QUICK], { S1: 'k3Vq9Zs1x0Fh2Jd8Lm4Np6Rt7Uw5Yb0Ce3Gi1Ko9Qs2+' });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as DoctorReport;
    expect(report.ok).toBe(true);
    const ids = report.checks.map((c) => c.id);
    expect(ids).toEqual(
      expect.arrayContaining(['config.load', 'tls.listener', 'credentials.format', 'credentials.age', 'credentials.rotation', 'keys.canary', 'keys.key']),
    );
    expect(report.checks.find((c) => c.id === 'credentials.age')).toMatchObject({ level: 'warn', data: { maxAgeDays: 90 } });
  });

  it('rejects an unknown check group in --skip', async () => {
    const res = await runDoctorCli(['--skip', 'tls,bogus']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('unknown check group "bogus"');
  });
});
