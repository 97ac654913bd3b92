import { XksError } from '../../xks/errors.ts';
import type { PoolStats } from '../../xks/key-provider-port.ts';
import type { Pkcs11Handle } from './pkcs11-api.ts';
import { DeadlineQueue, type DeadlineEntry } from './pkcs11-deadline-queue.ts';
import { rejectionOf } from '../rejection.ts';

/** A session lent to one operation; give it back with `release` exactly once. */
export interface Pkcs11Lease {
  readonly session: Pkcs11Handle;
  /** Pool generation the session was opened in; sessions from before a `reset` are dropped on release. */
  readonly generation: number;
}

/**
 * What to do with a session given back: `keep` it for the next caller, `close` it (its
 * state is unknown, e.g. an operation the library left active), or `forget` it without
 * C_CloseSession because the library said it is gone: some libraries hand the same handle
 * number to a new session, and closing a stale number could close someone else's session.
 */
export type Pkcs11ReleaseOutcome = 'keep' | 'close' | 'forget';

/** How the pool opens and closes sessions (C_OpenSession / C_CloseSession on one slot). */
export interface Pkcs11SessionPoolOptions {
  /** Token name, for error messages. */
  name: string;
  size: number;
  open: () => Pkcs11Handle;
  close: (session: Pkcs11Handle) => void;
}

interface Waiter {
  resolve: (lease: Pkcs11Lease) => void;
  reject: (e: unknown) => void;
  /** The waiter's deadline in the pool's queue (one timer for all waiters). */
  timer: DeadlineEntry;
}

/**
 * A fixed-size pool of PKCS#11 sessions with one operation at a time per session (a
 * session holds at most one active crypto operation: PKCS#11 2.40 section 5.6). Sessions
 * are opened on demand; callers wait in FIFO order until their deadline.
 */
export class Pkcs11SessionPool {
  readonly #idle: Pkcs11Lease[] = [];
  readonly #waiters: Waiter[] = [];
  #busy = 0;
  #gen = 1;
  #closed = false;
  #opened = 0;
  #discarded = 0;
  #drained: (() => void) | undefined;
  readonly #deadlines = new DeadlineQueue();
  readonly #opts: Pkcs11SessionPoolOptions;

  constructor(opts: Pkcs11SessionPoolOptions) {
    this.#opts = opts;
  }

  /**
   * A session, opened now if the pool is not full, else the next one released before
   * `deadline` (the request's: the token never reads the request's AbortSignal, which
   * would create a timer per request). Not an async function: a caller that waits holds
   * the waiter's own promise.
   */
  acquire(deadline: number): Promise<Pkcs11Lease> {
    let ready: Pkcs11Lease | undefined;
    try {
      ready = this.tryAcquire();
    } catch (e) {
      return rejectionOf(e);
    }
    return ready === undefined ? this.#wait(deadline) : Promise.resolve(ready);
  }

  /**
   * A session now (idle, or opened now if the pool is not full), or undefined when every
   * session is busy. Throws when the pool is closed or opening fails. The token's hot path
   * calls this first: a free session then costs no promise and no microtask.
   */
  tryAcquire(): Pkcs11Lease | undefined {
    if (this.#closed) throw new XksError('InternalException', `PKCS#11 token ${this.#opts.name} is shut down.`);
    const ready = this.#idle.pop();
    if (ready !== undefined) {
      this.#busy += 1;
      return ready;
    }
    return this.#busy < this.#opts.size ? this.#openLease() : undefined;
  }

  /** Gives a session back (see Pkcs11ReleaseOutcome); sessions from before a `reset` are forgotten. */
  release(lease: Pkcs11Lease, outcome: Pkcs11ReleaseOutcome = 'keep'): void {
    this.#busy -= 1;
    const stale = lease.generation !== this.#gen;
    if (outcome !== 'keep' || this.#closed || stale) {
      if (outcome === 'close' || (outcome === 'keep' && !stale)) this.#closeQuietly(lease.session);
      this.#discarded += outcome === 'keep' ? 0 : 1;
      this.#serveWaiterWithNewSession();
    } else {
      const waiter = this.#waiters.shift();
      if (waiter === undefined) {
        this.#idle.push(lease);
      } else {
        this.#busy += 1;
        this.#settle(waiter).resolve(lease);
      }
    }
    if (this.#busy === 0) this.#drained?.();
  }

  /** Forgets every session without closing it (the library was re-initialized: they are all gone). */
  reset(): void {
    this.#gen += 1;
    this.#idle.splice(0);
  }

  /**
   * Forgets the idle sessions `isAlive` rejects (after a session was closed behind our
   * back, all of them may be gone, or just one); live ones stay, so nothing is reopened
   * needlessly.
   */
  prune(isAlive: (session: Pkcs11Handle) => boolean): number {
    const dead = this.#idle.filter((l) => !isAlive(l.session));
    for (const lease of dead) this.#idle.splice(this.#idle.indexOf(lease), 1);
    this.#discarded += dead.length;
    return dead.length;
  }

  /** Current generation: sessions leased in an older one were opened before the last reset. */
  get generation(): number {
    return this.#gen;
  }

  /** Counters for tests and diagnostics. */
  stats(): PoolStats {
    return {
      size: this.#opts.size,
      idle: this.#idle.length,
      busy: this.#busy,
      waiting: this.#waiters.length,
      opened: this.#opened,
      discarded: this.#discarded,
    };
  }

  /** Refuses new work, fails waiters, closes idle sessions and waits (bounded) for busy ones. */
  async close(timeoutMs = 5000): Promise<boolean> {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) {
      this.#settle(w).reject(new XksError('InternalException', `PKCS#11 token ${this.#opts.name} is shutting down.`));
    }
    for (const lease of this.#idle.splice(0)) this.#closeQuietly(lease.session);
    if (this.#busy === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#drained = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  #openLease(): Pkcs11Lease {
    // Count the slot as busy before the (synchronous) open so a throw gives it back.
    this.#busy += 1;
    try {
      const session = this.#opts.open();
      this.#opened += 1;
      return { session, generation: this.#gen };
    } catch (e) {
      this.#busy -= 1;
      throw e;
    }
  }

  #serveWaiterWithNewSession(): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) return;
    const { resolve, reject } = this.#settle(waiter);
    try {
      resolve(this.#openLease());
    } catch (e) {
      reject(e);
    }
  }

  #wait(deadline: number): Promise<Pkcs11Lease> {
    return new Promise<Pkcs11Lease>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: this.#deadlines.add(deadline, () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(
            new XksError(
              'DependencyTimeoutException',
              `All ${this.#opts.size} sessions of PKCS#11 token ${this.#opts.name} stayed busy until the request deadline.`,
            ),
          );
        }),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Detaches a waiter's timer before it is resolved or rejected. */
  #settle(w: Waiter): Pick<Waiter, 'resolve' | 'reject'> {
    w.timer.cancel();
    return w;
  }

  #closeQuietly(session: Pkcs11Handle): void {
    try {
      this.#opts.close(session);
    } catch {
      // Already gone (closed behind our back, or the library was finalized): nothing to free.
    }
  }
}
