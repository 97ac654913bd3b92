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
    const [line] = await checkClock({ ntpSynchronized: noNtp });
    expect(line?.level).toBe('skip');
    expect(line?.message).toContain('--time-reference');
  });

  it('fails when a reference clock is more than five minutes away', async () => {
    skewMs = -10 * 60_000;
    const [line] = await checkClock({ ntpSynchronized: noNtp, reference: url });
    expect(line?.level).toBe('fail');
    expect(line?.message).toMatch(/(599|600|601) s ahead of/);
    expect(line?.data?.skewSeconds).toBeGreaterThan(590);
  });

  it('warns about a drift of a minute and accepts a second', async () => {
    skewMs = 60_000;
    expect((await checkClock({ ntpSynchronized: noNtp, reference: url }))[0]?.level).toBe('warn');
    skewMs = 0;
    expect((await checkClock({ ntpSynchronized: noNtp, reference: url }))[0]?.level).toBe('ok');
  });

  it('uses a Date header already seen (the endpoint answer) as a sample', async () => {
    const now = new Date();
    const [line] = await checkClock({ ntpSynchronized: noNtp, samples: [{ source: 'https://xks.example.com', remote: new Date(now.getTime() + 400_000), local: now }] });
    expect(line?.level).toBe('fail');
    expect(line?.message).toContain('400 s behind');
  });
});
