import type { Logger } from 'pino';
import { isXksError, XksError } from '../../xks/errors.ts';
import type { CallContext } from '../../xks/key-provider-port.ts';
import { narrowCallContext } from '../../xks/call-context.ts';
import type { UpstreamClient } from './upstream-client.ts';
import { UpstreamFault } from './upstream-fault.ts';

/** One upstream node and what we know of its recent failures. */
export interface UpstreamEndpoint {
  /** Id in health and logs. */
  id: string;
  client: Pick<UpstreamClient, 'post' | 'close'>;
}

/** Failover settings. */
export interface UpstreamFleetOptions {
  /** With another endpoint left to try, the most one attempt may take. */
  attemptTimeoutMs: number;
  /** A failed endpoint goes to the back of the order for this long. */
  downBackoffMs: number;
  logger: Logger;
  now?: () => number;
}

/**
 * The upstream endpoints of one key store, with failover: endpoints are tried in config
 * order, those that failed recently last. Only an UpstreamFault (no answer in time, no
 * connection, garbage, or an upstream error that blames the upstream) moves on to the next
 * endpoint; an XksError that blames the request is final, since every node would say the same.
 */
export class UpstreamFleet {
  readonly #downUntil = new Map<string, number>();
  readonly #now: () => number;
  readonly #options: UpstreamFleetOptions;

  constructor(
    readonly endpoints: readonly UpstreamEndpoint[],
    options: UpstreamFleetOptions,
  ) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Endpoints in the order to try them now: healthy ones in config order, then the failed ones, soonest back first. */
  order(): UpstreamEndpoint[] {
    const now = this.#now();
    const up = this.endpoints.filter((e) => (this.#downUntil.get(e.id) ?? 0) <= now);
    const down = this.endpoints.filter((e) => (this.#downUntil.get(e.id) ?? 0) > now).sort((a, b) => this.#downUntil.get(a.id)! - this.#downUntil.get(b.id)!);
    return [...up, ...down];
  }

  /** Records the outcome of a call to an endpoint (also used by health checks). */
  record(endpoint: UpstreamEndpoint, ok: boolean): void {
    if (ok) this.#downUntil.delete(endpoint.id);
    else this.#downUntil.set(endpoint.id, this.#now() + this.#options.downBackoffMs);
  }

  /** Runs `attempt` on one endpoint after another until one answers or the budget is gone. */
  async call<T>(operation: string, ctx: CallContext, attempt: (endpoint: UpstreamEndpoint, actx: CallContext) => Promise<T>): Promise<T> {
    const order = this.order();
    const faults: UpstreamFault[] = [];
    for (const [i, endpoint] of order.entries()) {
      const now = Date.now();
      if (now >= ctx.deadline || ctx.signal.aborted) break;
      // The last endpoint gets all the time left; earlier ones leave room for the next.
      const deadline = i === order.length - 1 ? ctx.deadline : Math.min(ctx.deadline, now + this.#options.attemptTimeoutMs);
      try {
        const result = await attempt(endpoint, narrowCallContext(ctx, deadline));
        this.record(endpoint, true);
        if (faults.length > 0) this.#options.logger.info({ operation, endpoint: endpoint.id, failedOver: faults.length }, 'upstream answered after failover');
        return result;
      } catch (e) {
        if (!(e instanceof UpstreamFault)) throw asXksError(e, operation, endpoint, this.#options.logger);
        this.record(endpoint, false);
        faults.push(e);
        this.#options.logger.warn({ operation, endpoint: endpoint.id, fault: e.kind, detail: e.detail }, 'upstream endpoint failed');
      }
    }
    throw finalError(faults, ctx);
  }

  /** Closes every endpoint's connections. */
  async close(): Promise<void> {
    await Promise.allSettled(this.endpoints.map((e) => e.client.close()));
  }
}

/**
 * The error KMS sees when no endpoint answered: a timeout anywhere, or a budget used up,
 * is DependencyTimeoutException (spec: "dependency timed out"); otherwise the last
 * endpoint's error (InternalException, or the upstream's own 5xx name).
 */
function finalError(faults: readonly UpstreamFault[], ctx: CallContext): XksError {
  const last = faults.at(-1);
  if (last === undefined || faults.some((f) => f.kind === 'timeout') || Date.now() >= ctx.deadline) {
    const tried = faults.length === 0 ? 'no endpoint could be tried' : faults.map((f) => f.detail).join('; ');
    return new XksError('DependencyTimeoutException', 'The upstream XKS proxy did not answer within the request budget.', { logDetail: tried });
  }
  if (faults.length === 1) return last.xksError;
  return new XksError(last.xksError.errorName, last.xksError.message, { logDetail: faults.map((f) => f.detail).join('; ') });
}

/** Request-blaming XksErrors pass; anything else is a bug here, logged and hidden from KMS. */
function asXksError(e: unknown, operation: string, endpoint: UpstreamEndpoint, logger: Logger): XksError {
  if (isXksError(e)) return e;
  logger.error({ operation, endpoint: endpoint.id, err: e instanceof Error ? e.message : String(e) }, 'upstream call failed unexpectedly');
  return new XksError('InternalException', 'The upstream key store failed unexpectedly; the operator log has details.');
}
