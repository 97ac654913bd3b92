import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ThrottledWarning } from '../../../src/server/throttled-warning.ts';

function captured() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, sink) };
}

describe('ThrottledWarning', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('logs the first occurrence at once and a flood as one summary per interval', () => {
    const { lines, logger } = captured();
    const w = new ThrottledWarning(logger, 'connection refused', 10_000);
    for (let i = 0; i < 20_000; i++) w.hit({ remoteAddress: '10.0.0.1' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'connection refused', occurrences: 1, remoteAddress: '10.0.0.1', level: 40 });
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ msg: 'connection refused (repeated)', occurrences: 19_999, withinMs: 10_000 });
    expect(w.total).toBe(20_000);
  });

  it('stays quiet when the flood has ended, and logs the next one at once', () => {
    const { lines, logger } = captured();
    const w = new ThrottledWarning(logger, 'stream cancelled', 1000);
    w.hit({});
    vi.advanceTimersByTime(5000);
    expect(lines).toHaveLength(1);
    w.hit({ n: 2 });
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ msg: 'stream cancelled', occurrences: 1, n: 2 });
  });
});
