import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { BatchedLogDestination } from '../../../src/observability/batched-destination.ts';
import { isoTime } from '../../../src/observability/logger.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'xks-batched-log-'));
const afterDelay = () => new Promise((resolve) => setTimeout(resolve, 30));

describe('BatchedLogDestination', () => {
  const fds: number[] = [];
  afterEach(() => fds.splice(0).forEach((fd) => closeSync(fd)));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  function fileDestination(name: string, maxWriteBytes?: number) {
    const path = join(dir, name);
    const fd = openSync(path, 'w');
    fds.push(fd);
    return { path, destination: new BatchedLogDestination({ fd, maxWriteBytes }) };
  }

  it('writes the lines gathered within the flush delay together, in order', async () => {
    const { path, destination } = fileDestination('turn.log');
    for (let i = 0; i < 100; i++) destination.write(`{"n":${i}}\n`);
    expect(readFileSync(path, 'utf8')).toBe(''); // still gathered
    await vi.waitFor(() => expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(101), { timeout: 2_000, interval: 5 });
    expect(readFileSync(path, 'utf8')).toBe(Array.from({ length: 100 }, (_, i) => `{"n":${i}}\n`).join(''));
  });

  it('hands over whole lines only, in writes of at most maxWriteBytes', async () => {
    const handedOver: string[] = [];
    const stream = { write: (chunk: Buffer) => handedOver.push(chunk.toString('utf8')), flush: (cb?: () => void) => cb?.(), flushSync: () => undefined };
    const destination = new BatchedLogDestination({ maxWriteBytes: 1024, stream });
    const lines = Array.from({ length: 500 }, (_, i) => `{"n":${i},"pad":"${'\u00e9'.repeat(i % 300)}"}\n`);
    for (const line of lines) destination.write(line);
    await afterDelay();
    expect(handedOver.join('')).toBe(lines.join(''));
    expect(handedOver.length).toBeGreaterThan(50); // split by size, not one write per line
    expect(handedOver.length).toBeLessThan(lines.length);
    for (const chunk of handedOver) {
      expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(1024);
      expect(chunk.endsWith('\n')).toBe(true);
    }
  });

  it('writes a line longer than maxWriteBytes alone, after the lines before it and before the lines after it', async () => {
    const handedOver: string[] = [];
    const stream = { write: (chunk: Buffer) => handedOver.push(chunk.toString('utf8')), flush: (cb?: () => void) => cb?.(), flushSync: () => undefined };
    const destination = new BatchedLogDestination({ maxWriteBytes: 256, stream });
    const long = `{"msg":"${'\u20ac'.repeat(200)}"}\n`; // 600+ bytes of UTF-8, 200 UTF-16 units
    destination.write('{"n":1}\n');
    destination.write(long);
    destination.write('{"n":2}\n');
    await afterDelay();
    expect(handedOver).toEqual(['{"n":1}\n', long, '{"n":2}\n']);
  });

  it('never changes a batch after handing it over (the stream may write it later)', async () => {
    const kept: Buffer[] = [];
    const stream = { write: (chunk: Buffer) => kept.push(chunk), flush: (cb?: () => void) => cb?.(), flushSync: () => undefined };
    const destination = new BatchedLogDestination({ maxWriteBytes: 64, stream, flushDelayMs: 5 });
    destination.write('{"batch":1,"pad":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}\n');
    await afterDelay();
    destination.write('{"batch":2,"pad":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}\n');
    await afterDelay();
    expect(kept.map((b) => b.toString('utf8'))).toEqual([
      '{"batch":1,"pad":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}\n',
      '{"batch":2,"pad":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}\n',
    ]);
  });

  it('keeps multi-byte characters intact when a batch fills up exactly', async () => {
    const handedOver: Buffer[] = [];
    const stream = { write: (chunk: Buffer) => handedOver.push(Buffer.from(chunk)), flush: (cb?: () => void) => cb?.(), flushSync: () => undefined };
    const destination = new BatchedLogDestination({ maxWriteBytes: 64, stream });
    const line = `{"s":"${'\u{1F511}'.repeat(12)}"}\n`; // 4-byte characters: 57 bytes per line
    for (let i = 0; i < 10; i++) destination.write(line);
    await afterDelay();
    expect(handedOver).toHaveLength(10); // two lines never fit in 64 bytes
    for (const chunk of handedOver) expect(chunk.toString('utf8')).toBe(line);
  });

  it('gathers lines from several event-loop turns into one write, then writes again for later lines', async () => {
    const handedOver: string[] = [];
    const stream = { write: (chunk: Buffer) => handedOver.push(chunk.toString('utf8')), flush: (cb?: () => void) => cb?.(), flushSync: () => undefined };
    const destination = new BatchedLogDestination({ stream, flushDelayMs: 20 });
    for (let i = 0; i < 5; i++) {
      destination.write(`{"n":${i}}\n`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(handedOver).toHaveLength(0);
    await afterDelay();
    expect(handedOver).toEqual(['{"n":0}\n{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n']);
    destination.write('{"n":5}\n');
    await afterDelay();
    expect(handedOver).toHaveLength(2);
  });

  it('writes pending lines when the process exits right after logging', async () => {
    const path = join(dir, 'exit.log');
    const script = [
      `import { openSync } from 'node:fs';`,
      `import { BatchedLogDestination } from ${JSON.stringify(new URL('../../../src/observability/batched-destination.ts', import.meta.url).pathname)};`,
      `const d = new BatchedLogDestination({ fd: openSync(${JSON.stringify(path)}, 'w') });`,
      `d.write('{"msg":"last words"}\\n');`,
      `process.exit(3);`,
    ].join('\n');
    const child = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]).catch((e: { code: number }) => e);
    expect((child as { code?: number }).code).toBe(3);
    expect(readFileSync(path, 'utf8')).toBe('{"msg":"last words"}\n');
  });
});

describe('isoTime', () => {
  it('formats like Date#toISOString, as pino time field', () => {
    const spy = vi.spyOn(Date, 'now');
    try {
      for (const t of [0, 5, 42, 999, 1_000, 1_764_158_400_007, 1_764_158_400_070, 1_764_158_400_700, 1_764_158_459_999, 4_102_444_799_999]) {
        spy.mockReturnValue(t);
        expect(isoTime()).toBe(`,"time":"${new Date(t).toISOString()}"`);
      }
    } finally {
      spy.mockRestore();
    }
  });
});
