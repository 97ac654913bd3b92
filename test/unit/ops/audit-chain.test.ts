import { mkdtemp, readFile, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/ops/audit/audit-log.ts';
import { GENESIS_HASH, hashAuditLine } from '../../../src/ops/audit/audit-chain.ts';
import { verifyAuditLog } from '../../../src/ops/audit/verify-audit-log.ts';
import type { RequestEvent } from '../../../src/xks/request-event.ts';

const silent = pino({ level: 'silent' });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xks-audit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function event(i: number, extra: Partial<RequestEvent> = {}): RequestEvent {
  return {
    method: 'POST',
    status: 200,
    latencyMs: 1.5,
    outcome: 'ok',
    at: Date.UTC(2026, 0, 1, 0, 0, i),
    prefix: 'tenant-a',
    operation: 'encrypt',
    keyId: 'foo',
    kmsRequestId: `req-${i}`,
    kmsOperation: 'Encrypt',
    awsPrincipalArn: 'arn:aws:iam::111122223333:role/app',
    accessKeyId: 'AAAAAAAAAAAAAAAAAAAAAAAA',
    ...extra,
  };
}

async function writeLog(file: string, n: number): Promise<void> {
  const log = await AuditLog.open(file, { logger: silent });
  for (let i = 1; i <= n; i++) log.observe(event(i));
  await log.close();
}

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
}

describe('audit log hash chain', () => {
  it('writes one record per request, chained from the genesis hash, with mode 0600', async () => {
    const file = join(dir, 'audit.jsonl');
    await writeLog(file, 3);
    const text = await lines(file);
    expect(text).toHaveLength(3);
    const records = text.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[0]).toMatchObject({
      seq: 1,
      prev: GENESIS_HASH,
      kmsRequestId: 'req-1',
      principal: 'arn:aws:iam::111122223333:role/app',
      outcome: 'ok',
      keyId: 'foo',
    });
    expect(records[1]!.prev).toBe(hashAuditLine(text[0]!));
    expect(records[2]!.prev).toBe(hashAuditLine(text[1]!));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await verifyAuditLog([file])).toMatchObject({ ok: true, lines: 3, firstSeq: 1, lastSeq: 3, headHash: hashAuditLine(text[2]!) });
  });

  it('detects an edited line and names that line', async () => {
    const file = join(dir, 'audit.jsonl');
    await writeLog(file, 5);
    const text = await lines(file);
    text[1] = text[1]!.replace('"outcome":"ok"', '"outcome":"error"');
    await writeFile(file, `${text.join('\n')}\n`);
    const result = await verifyAuditLog([file]);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([expect.objectContaining({ line: 2, message: expect.stringContaining('edited') })]);
  });

  it('detects a deleted line', async () => {
    const file = join(dir, 'audit.jsonl');
    await writeLog(file, 5);
    const text = await lines(file);
    text.splice(2, 1);
    await writeFile(file, `${text.join('\n')}\n`);
    const result = await verifyAuditLog([file]);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.line)).toContain(3);
    expect(result.problems.some((p) => p.message.includes('seq 4 follows seq 2'))).toBe(true);
  });

  it('continues the chain after a restart', async () => {
    const file = join(dir, 'audit.jsonl');
    await writeLog(file, 2);
    await writeLog(file, 2);
    const records = (await lines(file)).map((l) => JSON.parse(l) as { seq: number });
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect((await verifyAuditLog([file])).ok).toBe(true);
  });

  it('continues the chain into a new file after rotation, verifiable as one chain', async () => {
    const file = join(dir, 'audit.jsonl');
    const rotated = join(dir, 'audit.jsonl.1');
    const log = await AuditLog.open(file, { logger: silent });
    log.observe(event(1));
    log.observe(event(2));
    await new Promise((r) => setTimeout(r, 20));
    const { rename } = await import('node:fs/promises');
    await rename(file, rotated);
    await log.reopen();
    log.observe(event(3));
    await log.close();
    const second = await verifyAuditLog([file]);
    expect(second).toMatchObject({ ok: true, continuesEarlierFile: true, firstSeq: 3 });
    expect(await verifyAuditLog([rotated, file])).toMatchObject({ ok: true, lines: 3, continuesEarlierFile: false });
    expect((await verifyAuditLog([file, rotated])).ok).toBe(false);
  });

  it('loses no record when rotated while requests keep arriving', async () => {
    const file = join(dir, 'audit.jsonl');
    const rotated = join(dir, 'audit.jsonl.1');
    const log = await AuditLog.open(file, { logger: silent });
    const { rename } = await import('node:fs/promises');
    let n = 0;
    const writer = setInterval(() => {
      for (let i = 0; i < 20; i++) log.observe(event(++n));
    }, 1);
    await new Promise((r) => setTimeout(r, 30));
    await rename(file, rotated);
    await log.reopen();
    await log.reopen(); // same file again: nothing changes
    await new Promise((r) => setTimeout(r, 30));
    clearInterval(writer);
    await log.close();
    const result = await verifyAuditLog([rotated, file]);
    expect(result).toMatchObject({ ok: true, lines: n, firstSeq: 1, lastSeq: n });
    expect((await lines(file)).length).toBeGreaterThan(0);
  });

  it('flags a partly written last line and keeps chaining after it', async () => {
    const file = join(dir, 'audit.jsonl');
    await writeLog(file, 2);
    await appendFile(file, '{"seq":3,"time":"2026-01-01T00:');
    await writeLog(file, 1);
    const result = await verifyAuditLog([file]);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([expect.objectContaining({ line: 3, message: expect.stringContaining('not a JSON record') })]);
  });

  it('never records plaintext-like fields that are not in the request event', async () => {
    const file = join(dir, 'audit.jsonl');
    const log = await AuditLog.open(file, { logger: silent });
    log.observe({ ...event(1), ...({ plaintext: 'SECRET-PLAINTEXT' } as object) });
    await log.close();
    expect(await readFile(file, 'utf8')).not.toContain('SECRET-PLAINTEXT');
  });

  it('a keyed chain (audit.hmacKey) catches a forger who rewrote the whole file; a plain chain cannot', async () => {
    const key = Buffer.from('k'.repeat(40));
    for (const keyed of [false, true]) {
      const file = join(dir, `audit-${keyed}.jsonl`);
      const log = await AuditLog.open(file, { logger: silent, key: keyed ? key : undefined });
      for (let i = 1; i <= 4; i++) log.observe(event(i));
      await log.close();
      expect((await verifyAuditLog([file], { key: keyed ? key : undefined })).ok).toBe(true);
      // The forger edits line 2 and recomputes every later prev with plain SHA-256.
      const text = await lines(file);
      text[1] = text[1]!.replace('"outcome":"ok"', '"outcome":"error"');
      for (let i = 2; i < text.length; i++) {
        const record = JSON.parse(text[i]!) as Record<string, unknown>;
        record.prev = hashAuditLine(text[i - 1]!);
        text[i] = JSON.stringify(record);
      }
      await writeFile(file, `${text.join('\n')}\n`);
      const result = await verifyAuditLog([file], { key: keyed ? key : undefined });
      expect(result.ok).toBe(!keyed);
      if (keyed) expect(result.problems[0]).toMatchObject({ line: 2 });
    }
  });

  it('a head kept elsewhere catches lines removed from the end', async () => {
    const file = join(dir, 'audit.jsonl');
    await writeLog(file, 4);
    const head = (await verifyAuditLog([file])).headHash;
    const text = await lines(file);
    await writeFile(file, `${text.slice(0, 3).join('\n')}\n`);
    expect((await verifyAuditLog([file])).ok).toBe(true);
    const result = await verifyAuditLog([file], { expectedHead: head });
    expect(result.ok).toBe(false);
    expect(result.problems[0]!.message).toContain('lines were removed from the end');
  });
});
