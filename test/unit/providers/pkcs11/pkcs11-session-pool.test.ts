import { describe, expect, it } from 'vitest';
import { Pkcs11SessionPool } from '../../../../src/providers/pkcs11/pkcs11-session-pool.ts';

function pool(size: number) {
  let next = 0;
  const open: number[] = [];
  const closed: number[] = [];
  const p = new Pkcs11SessionPool({
    name: 't',
    size,
    open: () => {
      next += 1;
      open.push(next);
      return Buffer.from([next]);
    },
    close: (s) => closed.push(s[0] as number),
  });
  return { p, open, closed };
}

const soon = (ms = 1000): number => Date.now() + ms;

describe('Pkcs11SessionPool', () => {
  it('opens sessions on demand up to its size and lends each to one caller at a time', async () => {
    const { p, open } = pool(2);
    const a = await p.acquire(soon());
    const b = await p.acquire(soon());
    expect(open).toEqual([1, 2]);
    expect(a.session.equals(b.session)).toBe(false);
    let third: Buffer | undefined;
    const waiting = p.acquire(soon()).then((l) => (third = l.session));
    await new Promise((r) => setImmediate(r));
    expect(third).toBeUndefined();
    expect(p.stats().waiting).toBe(1);
    p.release(a);
    await waiting;
    expect(third?.equals(a.session)).toBe(true);
    expect(open).toHaveLength(2);
  });

  it('serves waiters first-come first-served', async () => {
    const { p } = pool(1);
    const first = await p.acquire(soon());
    const order: string[] = [];
    const w1 = p.acquire(soon()).then((l) => (order.push('w1'), p.release(l)));
    const w2 = p.acquire(soon()).then((l) => (order.push('w2'), p.release(l)));
    p.release(first);
    await Promise.all([w1, w2]);
    expect(order).toEqual(['w1', 'w2']);
  });

  it('gives up at the deadline with DependencyTimeoutException', async () => {
    const { p } = pool(1);
    await p.acquire(soon());
    const started = Date.now();
    await expect(p.acquire(Date.now() + 30)).rejects.toMatchObject({ errorName: 'DependencyTimeoutException' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(p.stats().waiting).toBe(0);
  });

  it('closes a session given back as "close" and opens a fresh one for the next caller', async () => {
    const { p, open, closed } = pool(1);
    const a = await p.acquire(soon());
    const next = p.acquire(soon());
    p.release(a, 'close');
    const b = await next;
    expect(closed).toEqual([1]);
    expect(open).toEqual([1, 2]);
    expect(b.session[0]).toBe(2);
    expect(p.stats().discarded).toBe(1);
  });

  it('never closes a session given back as "forget" (the library may have reused its handle)', async () => {
    const { p, open, closed } = pool(1);
    const a = await p.acquire(soon());
    p.release(a, 'forget');
    expect(closed).toEqual([]);
    expect((await p.acquire(soon())).session[0]).toBe(2);
    expect(open).toEqual([1, 2]);
  });

  it('after reset (library re-initialized), forgets idle sessions now and busy ones when they come back, closing none', async () => {
    const { p, closed } = pool(2);
    const a = await p.acquire(soon());
    const b = await p.acquire(soon());
    p.release(a);
    p.reset();
    p.release(b);
    expect(closed).toEqual([]);
    expect(p.stats()).toMatchObject({ idle: 0, busy: 0 });
    expect((await p.acquire(soon())).session[0]).toBe(3);
  });

  it('prunes only the idle sessions that are dead', async () => {
    const { p, closed } = pool(3);
    const leases = [await p.acquire(soon()), await p.acquire(soon()), await p.acquire(soon())];
    for (const l of leases) p.release(l);
    expect(p.prune((s) => s[0] !== 2)).toBe(1);
    expect(p.stats()).toMatchObject({ idle: 2, discarded: 1 });
    expect(closed).toEqual([]);
  });

  it('gives a slot back when opening a session fails', async () => {
    let fail = true;
    const p = new Pkcs11SessionPool({
      name: 't',
      size: 1,
      open: () => {
        if (fail) throw Object.assign(new Error('CKR_SESSION_COUNT'), { code: 0xb1 });
        return Buffer.from([1]);
      },
      close: () => undefined,
    });
    await expect(p.acquire(soon())).rejects.toMatchObject({ code: 0xb1 });
    fail = false;
    await expect(p.acquire(soon())).resolves.toBeDefined();
  });

  it('on close, fails waiters and waits for busy sessions to come back', async () => {
    const { p, closed } = pool(1);
    const a = await p.acquire(soon());
    const waiter = p.acquire(soon());
    const closing = p.close(1000);
    await expect(waiter).rejects.toMatchObject({ errorName: 'InternalException' });
    setTimeout(() => p.release(a), 10);
    expect(await closing).toBe(true);
    expect(closed).toEqual([1]);
  });

  it('reports false from close when a session never comes back in time', async () => {
    const { p } = pool(1);
    await p.acquire(soon());
    expect(await p.close(20)).toBe(false);
  });
});
