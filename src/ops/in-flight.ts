/** Someone waiting for a set of requests to end. */
interface Waiter {
  remaining: Set<object>;
  resolve: () => void;
}

/**
 * Counts the HTTP requests being handled, so shutdown can wait for them (within a bound)
 * and a reload can retire a key store only after the requests that were using it ended.
 * A request costs one Set entry; promises exist only while someone waits (reload,
 * shutdown), not per request.
 */
export class InFlightRequests {
  readonly #pending = new Set<object>();
  readonly #waiters = new Set<Waiter>();
  #draining = false;

  /** Requests being handled now. */
  get count(): number {
    return this.#pending.size;
  }

  /** True once shutdown started: responses then ask HTTP/1.1 clients to close the connection. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Marks the start of shutdown. */
  startDraining(): void {
    this.#draining = true;
  }

  /** Registers a request; call the returned function (once) when it has its response. */
  begin(): () => void {
    const request = {};
    this.#pending.add(request);
    return () => {
      if (!this.#pending.delete(request) || this.#waiters.size === 0) return;
      for (const waiter of this.#waiters) {
        if (waiter.remaining.delete(request) && waiter.remaining.size === 0) {
          this.#waiters.delete(waiter);
          waiter.resolve();
        }
      }
    };
  }

  /** Resolves when every request in flight now has ended (later ones are not waited for). */
  settled(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#waiters.add({ remaining: new Set(this.#pending), resolve }));
  }

  /** Resolves when no request is in flight at all. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await this.settled();
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
    async fetch(request, env) {
      const end = inFlight.begin();
      try {
        const response = await app.fetch(request, env);
        if (inFlight.draining && httpVersionMajor(env) === 1) {
          try {
            response.headers.set('connection', 'close');
          } catch {
            // Immutable headers (a fetched Response): the listener's close handles it.
          }
        }
        return response;
      } finally {
        end();
      }
    },
  };
}
