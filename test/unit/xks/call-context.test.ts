import { afterEach, describe, expect, it, vi } from 'vitest';
import { callContextWithin, narrowCallContext } from '../../../src/xks/call-context.ts';
import type { CallContext } from '../../../src/xks/key-provider-port.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('callContextWithin', () => {
  it('sets the deadline budgetMs from now', () => {
    const before = Date.now();
    const ctx = callContextWithin(250);
    expect(ctx.deadline).toBeGreaterThanOrEqual(before + 250);
    expect(ctx.deadline).toBeLessThanOrEqual(Date.now() + 250);
  });

  it('makes its timer only when the signal is read, and only once (the hot path never pays for it)', () => {
    const timeout = vi.spyOn(AbortSignal, 'timeout');
    const ctx = callContextWithin(1_000);
    expect(ctx.deadline).toBeGreaterThan(0);
    expect(timeout).not.toHaveBeenCalled();
    const signal = ctx.signal;
    expect(ctx.signal).toBe(signal);
    expect(timeout).toHaveBeenCalledTimes(1);
    expect(signal.aborted).toBe(false);
  });

  it('aborts its signal with a TimeoutError once the deadline has passed, not before', async () => {
    const ctx = callContextWithin(20);
    const signal = ctx.signal;
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    expect(Date.now()).toBeGreaterThanOrEqual(ctx.deadline);
    expect((signal.reason as Error).name).toBe('TimeoutError');
  });

  it('gives a signal already aborted when read after the deadline', async () => {
    const ctx = callContextWithin(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const signal = ctx.signal;
    await new Promise((resolve) => (signal.aborted ? resolve(undefined) : signal.addEventListener('abort', resolve, { once: true })));
    expect(signal.aborted).toBe(true);
  });
});

describe('narrowCallContext', () => {
  /** A request context that counts how often its signal is read. */
  function countingRequest(): CallContext & { reads: number } {
    const controller = new AbortController();
    return {
      deadline: Date.now() + 10_000,
      reads: 0,
      get signal() {
        this.reads++;
        return controller.signal;
      },
    };
  }

  it('has the earlier deadline and the request signal', () => {
    const request = countingRequest();
    const attempt = narrowCallContext(request, request.deadline - 5_000);
    expect(attempt.deadline).toBe(request.deadline - 5_000);
    const requestSignal = request.signal;
    expect(attempt.signal).toBe(requestSignal);
  });

  it('does not read the request signal until the attempt reads its own (PKCS#11 never does)', () => {
    const request = countingRequest();
    const attempt = narrowCallContext(request, request.deadline - 1);
    expect(attempt.deadline).toBe(request.deadline - 1);
    expect(request.reads).toBe(0);
    void attempt.signal;
    void attempt.signal;
    expect(request.reads).toBe(1);
  });

  it('leaves a lazily made request signal unmade while only the deadline is used', () => {
    const timeout = vi.spyOn(AbortSignal, 'timeout');
    const attempt = narrowCallContext(callContextWithin(1_000), Date.now() + 100);
    expect(attempt.deadline).toBeGreaterThan(0);
    expect(timeout).not.toHaveBeenCalled();
    expect(attempt.signal.aborted).toBe(false);
    expect(timeout).toHaveBeenCalledTimes(1);
  });
});
