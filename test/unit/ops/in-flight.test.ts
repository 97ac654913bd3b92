import { describe, expect, it } from 'vitest';
import { InFlightRequests } from '../../../src/ops/in-flight.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('InFlightRequests', () => {
  it('counts requests between begin and end; ending twice counts once', () => {
    const inFlight = new InFlightRequests();
    const a = inFlight.begin();
    const b = inFlight.begin();
    expect(inFlight.count).toBe(2);
    a();
    a();
    expect(inFlight.count).toBe(1);
    b();
    expect(inFlight.count).toBe(0);
  });

  it('settled() waits for the requests in flight when it was called, not for later ones', async () => {
    const inFlight = new InFlightRequests();
    const first = inFlight.begin();
    const second = inFlight.begin();
    let settled = false;
    void inFlight.settled().then(() => (settled = true));
    const later = inFlight.begin();
    first();
    await tick();
    expect(settled).toBe(false);
    second();
    await tick();
    expect(settled).toBe(true); // `later` is still running
    expect(inFlight.count).toBe(1);
    later();
  });

  it('idle() waits until nothing is in flight, including requests that started meanwhile', async () => {
    const inFlight = new InFlightRequests();
    const first = inFlight.begin();
    let idle = false;
    void inFlight.idle().then(() => (idle = true));
    const second = inFlight.begin();
    first();
    await tick();
    expect(idle).toBe(false);
    second();
    await tick();
    await tick();
    expect(idle).toBe(true);
    await inFlight.settled(); // nothing in flight: resolves at once
  });
});
