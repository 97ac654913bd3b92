import { describe, expect, it } from 'vitest';
import { InFlightRequests, trackInFlight } from '../../../src/ops/in-flight.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('InFlightRequests', () => {
  it('counts requests between begin and end', () => {
    const inFlight = new InFlightRequests();
    const a = inFlight.begin();
    const b = inFlight.begin();
    expect(inFlight.count).toBe(2);
    inFlight.end(a);
    expect(inFlight.count).toBe(1);
    inFlight.end(b);
    expect(inFlight.count).toBe(0);
  });

  it('settled() waits for the requests in flight when it was called, not for later ones', async () => {
    const inFlight = new InFlightRequests();
    const first = inFlight.begin();
    const second = inFlight.begin();
    let settled = false;
    void inFlight.settled().then(() => (settled = true));
    const later = inFlight.begin();
    inFlight.end(first);
    await tick();
    expect(settled).toBe(false);
    inFlight.end(second);
    await tick();
    expect(settled).toBe(true); // `later` is still running
    expect(inFlight.count).toBe(1);
    inFlight.end(later);
  });

  it('two waiters started at different times each wait for their own requests only', async () => {
    const inFlight = new InFlightRequests();
    const early = inFlight.begin();
    const woken: string[] = [];
    void inFlight.settled().then(() => woken.push('first waiter'));
    const middle = inFlight.begin();
    void inFlight.settled().then(() => woken.push('second waiter'));
    const late = inFlight.begin();
    inFlight.end(middle);
    await tick();
    expect(woken).toEqual([]); // both wait for `early`
    inFlight.end(early);
    await tick();
    expect(woken).toEqual(['first waiter', 'second waiter']);
    expect(inFlight.count).toBe(1); // `late` began after both
    inFlight.end(late);
  });

  it('idle() waits until nothing is in flight, including requests that started meanwhile', async () => {
    const inFlight = new InFlightRequests();
    const first = inFlight.begin();
    let idle = false;
    void inFlight.idle().then(() => (idle = true));
    const second = inFlight.begin();
    inFlight.end(first);
    await tick();
    expect(idle).toBe(false);
    inFlight.end(second);
    await tick();
    await tick();
    expect(idle).toBe(true);
    await inFlight.settled(); // nothing in flight: resolves at once
  });
});

describe('InFlightRequests under steady traffic', () => {
  it('idle() resolves once the last request ends, after thousands of overlapping ones', async () => {
    const inFlight = new InFlightRequests();
    let previous = inFlight.begin();
    let idle = false;
    void inFlight.idle().then(() => (idle = true));
    for (let i = 0; i < 5000; i++) {
      const next = inFlight.begin(); // a keep-alive client sends its next request before the last ends
      inFlight.end(previous);
      previous = next;
      if (i % 100 === 0) await tick(); // let idle() wait again
    }
    await tick();
    expect(idle).toBe(false);
    inFlight.end(previous);
    await tick();
    await tick();
    expect(idle).toBe(true);
    expect(inFlight.count).toBe(0);
  });
});

describe('trackInFlight', () => {
  it('counts a request until its response, and an app that throws gives a rejected promise, not a throw, and ends the request', async () => {
    const inFlight = new InFlightRequests();
    let answer!: (r: Response) => void;
    const tracked = trackInFlight({ fetch: () => new Promise<Response>((resolve) => (answer = resolve)) }, inFlight);
    const pending = tracked.fetch(new Request('http://x/'));
    expect(inFlight.count).toBe(1);
    answer(new Response('ok'));
    expect((await pending).status).toBe(200);
    expect(inFlight.count).toBe(0);

    const failing = trackInFlight(
      {
        fetch: () => {
          throw new Error('app failed');
        },
      },
      inFlight,
    );
    let result: Response | Promise<Response> | undefined;
    expect(() => (result = failing.fetch(new Request('http://x/')))).not.toThrow();
    await expect(result).rejects.toThrow('app failed');
    expect(inFlight.count).toBe(0);
  });
});
