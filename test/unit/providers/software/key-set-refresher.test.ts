import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { stuckIoCount } from '../../../../src/observability/stuck-io.ts';
import { KeySetRefresher } from '../../../../src/providers/software/key-set-refresher.ts';
import type { KeystoreSource } from '../../../../src/providers/software/keystore-source.ts';
import { ServedKeySet } from '../../../../src/providers/software/served-key-set.ts';
import type { KeystoreContents } from '../../../../src/providers/software/software-keystore-contents.ts';
import { generateKeyMaterial } from '../../../../src/providers/software/software-keystore-file.ts';

/**
 * A FAKE source whose loads the test settles by hand: it stands in for a hung network file
 * system, which cannot be produced on this machine (a FIFO is refused without blocking).
 */
class HandSettledSource implements KeystoreSource {
  readonly id = 'fake';
  readonly location = '/fake/keystore';
  loads = 0;
  pending: { resolve: (c: KeystoreContents | undefined) => void; reject: (e: Error) => void } | undefined;

  load(): Promise<KeystoreContents | undefined> {
    this.loads += 1;
    return new Promise((resolve, reject) => (this.pending = { resolve, reject }));
  }

  close(): void {}
}

function contents(keyId: string): KeystoreContents {
  const key = {
    keyId,
    usages: ['ENCRYPT' as const],
    enabled: true,
    createdAt: 'now',
    versions: [{ version: 1, createdAt: 'now', material: generateKeyMaterial() }],
  };
  return { createdAt: 'now', canary: generateKeyMaterial(), keys: new Map([[keyId, key]]) };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('key set refresher', () => {
  it('serves the last good keys while a load hangs, reports it, runs one load only, and recovers', async () => {
    const source = new HandSettledSource();
    const keySet = new ServedKeySet();
    const refresher = new KeySetRefresher(source, keySet, { intervalMs: 0, slowAfterMs: 20, logger: pino({ level: 'silent' }) });

    const first = refresher.poke(true);
    source.pending!.resolve(contents('a'));
    await first;
    expect(keySet.state().state).toBe('fresh');

    // The next load hangs: a caller that waits a bounded time gets control back...
    await refresher.refreshWithin(5);
    expect(keySet.current()!.keys.has('a')).toBe(true);
    await tick(40);
    // ...and once the load is slow the set says so, still serving the old keys.
    expect(keySet.state()).toMatchObject({ state: 'stale', problem: expect.stringContaining('reading /fake/keystore has not finished after 20 ms') });
    expect(keySet.current()!.keys.has('a')).toBe(true);
    expect(stuckIoCount()).toBe(1);
    // More requests do not pile up loads behind the hung one.
    for (let i = 0; i < 10; i++) void refresher.poke(true);
    await refresher.refreshWithin(5);
    expect(source.loads).toBe(2);

    // The store answers again: the new keys serve and the problem clears.
    source.pending!.resolve(contents('b'));
    await tick(0);
    expect(stuckIoCount()).toBe(0);
    expect(keySet.state().state).toBe('fresh');
    expect(keySet.current()!.keys.has('b')).toBe(true);
    keySet.close();
  });

  it('keeps the keys and reports the error when a load fails; with no keys the set is empty', async () => {
    const source = new HandSettledSource();
    const keySet = new ServedKeySet();
    const refresher = new KeySetRefresher(source, keySet, { intervalMs: 0, slowAfterMs: 1000, logger: pino({ level: 'silent' }) });
    const first = refresher.poke(true);
    source.pending!.reject(new Error('keystore file /x is corrupt'));
    await first;
    expect(keySet.state()).toEqual({ state: 'empty', problem: 'keystore file /x is corrupt' });

    const second = refresher.poke(true);
    source.pending!.resolve(contents('a'));
    await second;
    const third = refresher.poke(true);
    source.pending!.reject(new Error('wrong kek for keystore file /x'));
    await third;
    expect(keySet.state()).toMatchObject({ state: 'stale', problem: 'wrong kek for keystore file /x' });
    expect(keySet.current()!.keys.has('a')).toBe(true);

    // Unchanged since the last good load: the problem is gone.
    const fourth = refresher.poke(true);
    source.pending!.resolve(undefined);
    await fourth;
    expect(keySet.state().state).toBe('fresh');
    keySet.close();
  });

  it('starts a check from requests at most once per interval', async () => {
    const source = new HandSettledSource();
    const keySet = new ServedKeySet();
    const refresher = new KeySetRefresher(source, keySet, { intervalMs: 60_000, slowAfterMs: 1000, logger: pino({ level: 'silent' }) });
    const first = refresher.poke();
    source.pending!.resolve(contents('a'));
    await first;
    expect(refresher.poke()).toBeUndefined();
    expect(source.loads).toBe(1);
    keySet.close();
  });
});
