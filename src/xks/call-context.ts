/**
 * The one way to make a CallContext (the port's per-call limit, src/xks/key-provider-port.ts):
 * from a budget, or from another context with an earlier deadline (one attempt of a
 * failover). Every layer above xks uses these instead of building `{ deadline, signal }`.
 */
import type { CallContext } from './key-provider-port.ts';

/**
 * A deadline whose AbortSignal (a timer) is made only when someone reads it: the
 * in-process and PKCS#11 providers never do, and creating one per request costs measurable
 * throughput on the hot path. The signal fires at the deadline, as if it had been made
 * with it. A narrowed context hands out its parent's signal (the request's, which fires at
 * the later, request deadline) without reading it before it is asked for. A class, not an
 * object literal with a getter: on Node 20 such a literal is a dictionary-mode object, and
 * at 1,800 req/s those outlive young-generation GCs (docs/performance.md).
 */
class CallLimit implements CallContext {
  readonly deadline: number;
  readonly #parent: CallContext | undefined;
  #signal: AbortSignal | undefined;

  constructor(deadline: number, parent: CallContext | undefined) {
    this.deadline = deadline;
    this.#parent = parent;
  }

  get signal(): AbortSignal {
    this.#signal ??= this.#parent === undefined ? AbortSignal.timeout(Math.max(0, this.deadline - Date.now())) : this.#parent.signal;
    return this.#signal;
  }
}

/** A context whose deadline is `budgetMs` from now; its signal aborts at that deadline. */
export function callContextWithin(budgetMs: number): CallContext {
  return new CallLimit(Date.now() + budgetMs, undefined);
}

/**
 * `ctx` with an earlier `deadline` (one attempt of a failover, bounded by attemptTimeoutMs)
 * and the same signal, which is not read (so not created) until the attempt asks for it.
 */
export function narrowCallContext(ctx: CallContext, deadline: number): CallContext {
  return new CallLimit(deadline, ctx);
}
