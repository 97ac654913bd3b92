import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli-process.ts';
import { b64, requestMetadata } from '../support/xks-client.ts';
import { createOpsDirForTest, DEMO_PREFIX, demoConfig, encryptCall, startServingForTest, xksCall, xksPath } from './ops-fixture.ts';

const PLAINTEXT = 'AUDIT-TEST-PLAINTEXT-7f3a';
const AAD = 'AUDIT-TEST-AAD-91c2';

describe('audit log', () => {
  it('records every operation of a running proxy in a hash chain that audit verify accepts, and catches an edited line', async () => {
    const d = await createOpsDirForTest();
    await d.writeConfig(demoConfig(d, { audit: { file: 'audit/xks-audit.jsonl' } }));
    await import('node:fs/promises').then((fs) => fs.mkdir(join(d.dir, 'audit')));
    const proc = await startServingForTest(['serve', '-c', d.configFile, '--workers', '1']);
    const body = JSON.stringify({
      requestMetadata: requestMetadata('Encrypt', { kmsRequestId: 'audit-req-1' }),
      plaintext: b64(PLAINTEXT),
      additionalAuthenticatedData: b64(AAD),
      encryptionAlgorithm: 'AES_GCM',
    });
    expect((await xksCall(proc.url, xksPath(DEMO_PREFIX, 'encrypt'), body)).status).toBe(200);
    expect((await encryptCall(proc.url, DEMO_PREFIX, { secretAccessKey: 'WrongSecretWrongSecretWrongSecretWrongSecret0' })).status).toBe(401);
    expect((await encryptCall(proc.url, DEMO_PREFIX, {}, 'decrypt_only_key')).status).toBe(400);
    expect(await proc.stop()).toBe(0);

    const file = join(d.dir, 'audit', 'xks-audit.jsonl');
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(PLAINTEXT);
    expect(text).not.toContain(b64(PLAINTEXT));
    expect(text).not.toContain(AAD);
    expect(text).not.toContain(b64(AAD));
    const records = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(3);
    expect(records[0]).toMatchObject({
      seq: 1,
      kmsRequestId: 'audit-req-1',
      principal: 'arn:aws:iam::123456789012:user/Alice',
      operation: 'encrypt',
      kmsOperation: 'Encrypt',
      keyId: 'foo',
      prefix: DEMO_PREFIX,
      outcome: 'ok',
      status: 200,
    });
    expect(records[1]).toMatchObject({ seq: 2, outcome: 'error', errorName: 'AuthenticationFailedException', status: 401 });
    expect(records[2]).toMatchObject({ seq: 3, errorName: 'InvalidKeyUsageException', keyId: 'decrypt_only_key' });

    const ok = await runCli(['audit', 'verify', file]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok: 3 line\(s\), seq 1\.\.3, head [0-9a-f]{64}$/m);

    // Someone turns the refused request into a successful one.
    const lines = text.trim().split('\n');
    lines[1] = lines[1]!.replace('"outcome":"error"', '"outcome":"ok"');
    await writeFile(file, `${lines.join('\n')}\n`);
    const bad = await runCli(['audit', 'verify', file]);
    expect(bad.code).toBe(1);
    // Reported at the edited line itself, not at the one after it.
    expect(bad.stdout).toContain(`FAIL  ${file}:2: this line does not hash to the prev the next line recorded`);
    expect(bad.stdout).toContain('FAILED: 3 line(s)');
  }, 60_000);

  it('gives each worker of serve --workers 2 its own chained file', async () => {
    const d = await createOpsDirForTest();
    await d.writeConfig(demoConfig(d, { audit: { file: 'audit.jsonl' } }));
    const proc = await startServingForTest(['serve', '-c', d.configFile, '--workers', '2']);
    await Promise.all(Array.from({ length: 20 }, () => encryptCall(proc.url, DEMO_PREFIX, { agent: undefined })));
    expect(await proc.stop()).toBe(0);
    const files = [join(d.dir, 'audit.w0.jsonl'), join(d.dir, 'audit.w1.jsonl')];
    let total = 0;
    for (const f of files) {
      const r = await runCli(['audit', 'verify', f, '--json']);
      expect(r.code).toBe(0);
      total += (JSON.parse(r.stdout) as { lines: number }).lines;
    }
    expect(total).toBe(20);

    // The configured path stands for the worker set; two workers' files are two chains, no false alarm.
    for (const args of [[join(d.dir, 'audit.jsonl')], files, ['--config', d.configFile]]) {
      const r = await runCli(['audit', 'verify', ...args]);
      expect(r.stdout + r.stderr).not.toContain('ENOENT');
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).toMatch(/^worker 0: ok: \d+ line/m);
      expect(r.stdout).toMatch(/^worker 1: ok: \d+ line/m);
    }
  }, 60_000);
});
