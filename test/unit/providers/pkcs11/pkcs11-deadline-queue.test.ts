import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from '../../../../src/providers/pkcs11/pkcs11-deadline-queue.ts';

/** Resolves when `n` entries have expired, with their names in expiry order. */
function recorder(n: number): { expired: string[]; all: Promise<string[]>; onExpire: (name: string) => () => void } {
  const expired: string[] = [];
  let done: (names: string[]) => void = () => undefined;
  const all = new Promise<string[]>((resolve) => (done = resolve));
  return {
    expired,
    all,
    onExpire: (name) => () => {
      expired.push(name);
      if (expired.length === n) done(expired);
    },
  };
}

describe('DeadlineQueue', () => {
  it('expires entries in deadline order whatever order they were added in, and never a cancelled one', async () => {
    const q = new DeadlineQueue();
    const r = recorder(3);
    const now = Date.now();
    q.add(now + 40, r.onExpire('c'));
    q.add(now + 10, r.onExpire('a'));
    const cancelled = q.add(now + 15, r.onExpire('cancelled'));
    q.add(now + 20, r.onExpire('b'));
    cancelled.cancel();
    expect(await r.all).toEqual(['a', 'b', 'c']);
    expect(q.size).toBe(0);
  });

  it('keeps watching when an entry earlier than the armed one is added, and when one expiring adds another', async () => {
    const q = new DeadlineQueue();
    const r = recorder(3);
    const now = Date.now();
    q.add(now + 5_000, r.onExpire('late')).cancel(); // arms the timer far ahead, then leaves the queue empty
    q.add(now + 60, r.onExpire('second'));
    q.add(now + 5, () => {
      r.onExpire('first')();
      q.add(Date.now() + 10, r.onExpire('added while expiring'));
    });
    const names = await r.all;
    // Only 'first' has a fixed place: after a stall of this machine the other two may be due together.
    expect(names[0]).toBe('first');
    expect([...names].sort()).toEqual(['added while expiring', 'first', 'second']);
  });

  it('expires an entry added after the queue emptied, also when the timer left armed is due before it', async () => {
    const q = new DeadlineQueue();
    const r = recorder(1);
    q.add(Date.now() + 10, () => expect.fail('a cancelled deadline expired')).cancel(); // the queue is empty, the timer still armed for +10
    q.add(Date.now() + 40, r.onExpire('later'));
    expect(await r.all).toEqual(['later']);
    expect(q.size).toBe(0);
  });

  it('forgets an entry at once when its call ends, so nothing waits once all calls ended', () => {
    const q = new DeadlineQueue();
    const entries = [1, 2, 3].map((i) => q.add(Date.now() + 1_000 * i, () => expect.fail('a cancelled deadline expired')));
    expect(q.size).toBe(3);
    entries[1]?.cancel();
    entries[0]?.cancel();
    entries[0]?.cancel(); // twice: a no-op
    entries[2]?.cancel();
    expect(q.size).toBe(0);
  });
});
