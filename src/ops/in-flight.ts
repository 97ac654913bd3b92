/** Someone waiting for the requests that began before a point in time to end. */
interface Waiter {
  /** Waits for every request of the epochs before this one. */
  untilEpoch: number;
  resolve: () => void;
}

/**
 * Counts the HTTP requests being handled, so shutdown can wait for them (within a bound)
 * and a reload can retire a key store only after the requests that were using it ended.
 *
 * A request costs a few counter updates and no allocation: it is counted under the epoch it
 * began in, and a new epoch starts each time someone starts waiting (reload, shutdown),
 * so "the requests in flight when I started waiting" are the counts of the earlier
 * epochs. A Set entry per request churned the Set's table at thousands of requests/s
 * (docs/performance.md). Promises exist only while someone waits.
 */
export class InFlightRequests {
  /** Requests in flight by the epoch they began in; the last entry is the current epoch. */
  readonly #byEpoch: number[] = [0];
  /** No request of an epoch before this one is in flight (moves forward only). */
  #oldestBusy = 0;
  #count = 0;
  readonly #waiters = new Set<Waiter>();
  #draining = false;

  /** Requests being handled now. */
  get count(): number {
    return this.#count;
  }

  /** True once shutdown started: responses then ask HTTP/1.1 clients to close the connection. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Marks the start of shutdown. */
  startDraining(): void {
    this.#draining = true;
  }

  /** Registers a request; pass the returned token to `end`, once, when it has its response. */
  begin(): number {
    const epoch = this.#byEpoch.length - 1;
    this.#byEpoch[epoch]!++;
    this.#count++;
    return epoch;
  }

  /** Ends the request `begin` gave this token for. */
  end(epoch: number): void {
    this.#byEpoch[epoch]!--;
    this.#count--;
    if (this.#waiters.size > 0) this.#wakeWaiters();
  }

  /** Resolves when every request in flight now has ended (later ones are not waited for). */
  settled(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    // Requests from now on are not waited for: they count under a new epoch. (A current
    // epoch with nothing in flight serves as the new one: idle() calls this in a loop.)
    if (this.#byEpoch[this.#byEpoch.length - 1] !== 0) this.#byEpoch.push(0);
    const untilEpoch = this.#byEpoch.length - 1;
    return new Promise<void>((resolve) => this.#waiters.add({ untilEpoch, resolve }));
  }

  /** Resolves when no request is in flight at all. */
  async idle(): Promise<void> {
    while (this.#count > 0) await this.settled();
  }

  #wakeWaiters(): void {
    // Each epoch is passed once over the process's life, not once per call.
    const current = this.#byEpoch.length - 1;
    while (this.#oldestBusy < current && this.#byEpoch[this.#oldestBusy] === 0) this.#oldestBusy++;
    for (const waiter of this.#waiters) {
      if (waiter.untilEpoch <= this.#oldestBusy) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}

/** Node's request, when the app runs on @hono/node-server. */
function httpVersionMajor(env: unknown): number | undefined {
  return (env as { incoming?: { httpVersionMajor?: number } } | undefined)?.incoming?.httpVersionMajor;
}

/** What the listener serves: a Fetch-style handler (a Hono app is one). */
export interface FetchApp {
  fetch(request: Request, env?: unknown): Response | Promise<Response>;
}

/**
 * Wraps the app so every request is counted while it is handled. During shutdown an
 * HTTP/1.1 response carries `Connection: close`, so a keep-alive client (an NLB target
 * connection) moves to another proxy instead of sending its next request here. HTTP/2
 * forbids that header; its sessions end when the listener closes. A plain function
 * around `app.fetch`, not a second Hono app that would route every request a second time
 * (docs/performance.md).
 */
export function trackInFlight(app: FetchApp, inFlight: InFlightRequests): FetchApp {
  return {
    // Not an async function: one promise per request (the `then`), not an async frame and
    // an await on top of the app's own (docs/performance.md).
    fetch(request, env) {
      const epoch = inFlight.begin();
      let pending: Response | Promise<Response>;
      try {
        pending = app.fetch(request, env);
      } catch (e) {
        // A throw becomes a rejection, as from the async wrapper this replaced, and ends the
        // request in the one place below.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the app's own error, passed on as it was thrown
        pending = Promise.reject(e);
      }
      return Promise.resolve(pending).then(
        (response) => {
          inFlight.end(epoch);
          if (inFlight.draining && httpVersionMajor(env) === 1) closeAfter(response);
          return response;
        },
        (e: unknown) => {
          inFlight.end(epoch);
          throw e;
        },
      );
    },
  };
}

/** Asks an HTTP/1.1 client to close the connection after this response. */
function closeAfter(response: Response): void {
  try {
    response.headers.set('connection', 'close');
  } catch {
    // Immutable headers (a fetched Response): the listener's close handles it.
  }
}
