import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkClock } from '../../../src/diagnostics/clock-check.ts';

/** A real HTTP server whose Date header runs `skewMs` off this machine's clock. */
let server: http.Server;
let skewMs = 0;
let url: string;

beforeAll(async () => {
  server = http.createServer((_req, res) => {
    res.sendDate = false;
    res.setHeader('Date', new Date(Date.now() + skewMs).toUTCString());
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const noNtp = async () => undefined;
const skewLine = async (opts: Parameters<typeof checkClock>[0]) => (await checkClock(opts)).find((c) => c.id === 'clock.skew');

describe('clock check', () => {
  it('is ok when timedatectl reports NTP synchronisation', async () => {
    const [line] = await checkClock({ ntpSynchronized: async () => 'yes' });
    expect(line?.level).toBe('ok');
  });

  it('warns when timedatectl reports no synchronisation', async () => {
    const [line] = await checkClock({ ntpSynchronized: async () => 'no' });
    expect(line?.level).toBe('warn');
    expect(line?.kmsState).toBe('INVALID_CREDENTIALS');
  });

  it('says it cannot tell, and how to make it tell, without timedatectl or a reference', async () => {
    const lines = await checkClock({ ntpSynchronized: noNtp });
    expect(lines.map((l) => [l.id, l.level])).toEqual([
      ['clock.ntp', 'skip'],
      ['clock.skew', 'skip'],
    ]);
    expect(lines[1]?.message).toContain('not checked: no independent time reference');
    expect(lines[1]?.message).toContain('--time-reference');
  });

  it('does not call the clock ok without an independent reference, even when NTP is synchronised', async () => {
    const skew = await skewLine({ ntpSynchronized: async () => 'yes' });
    expect(skew?.level).toBe('skip');
    expect(skew?.message).toContain('no independent time reference');
  });

  it('fails when a reference clock is more than five minutes away', async () => {
    skewMs = -10 * 60_000;
    const line = await skewLine({ ntpSynchronized: noNtp, reference: url });
    expect(line?.level).toBe('fail');
    expect(line?.message).toMatch(/(599|600|601) s ahead of/);
    expect(line?.data?.skewSeconds).toBeGreaterThan(590);
  });

  it('warns about a drift of a minute and accepts a second', async () => {
    skewMs = 60_000;
    expect((await skewLine({ ntpSynchronized: noNtp, reference: url }))?.level).toBe('warn');
    skewMs = 0;
    expect((await skewLine({ ntpSynchronized: noNtp, reference: url }))?.level).toBe('ok');
  });
});
