import type { Logger } from 'pino';
import { isXksError, XksError } from '../../xks/errors.ts';
import { callContextWithin } from '../../xks/call-context.ts';
import type { CallContext, EkmHealth } from '../../xks/key-provider-port.ts';
import { DeadlineQueue } from './pkcs11-deadline-queue.ts';
import { checkPkcs11TokenHealth } from './pkcs11-token-health.ts';
import { hasTimeLeft, Pkcs11TokenUnavailableError, type Pkcs11Token, type Pkcs11TokenWork } from './pkcs11-token.ts';

/** How long a background probe of a failed token may take. */
const PROBE_BUDGET_MS = 5000;
/** The same "failed on every token" reasons are logged at most once per this interval... */
const REPEAT_LOG_MS = 10_000;
/** ...and changing reasons (a recovery attempt failing differently each time) once per this one. */
const CHANGED_LOG_MS = 1000;

/**
 * Several tokens holding the same keys (HSM replicas). Work goes to the least loaded
 * serving token (rotating among equals) and fails over to the next one within the
 * request's deadline; failed tokens are probed in the background with a growing rest
 * and are tried in a request only when no serving token could answer.
 */
export class Pkcs11Fleet {
  #rotation = 0;
  readonly #probes = new Map<Pkcs11Token, Promise<unknown>>();
  /** The last "failed on every token" line: same reasons within REPEAT_LOG_MS are counted, not logged. */
  #lastFailureLog = { reasons: '', at: 0, suppressed: 0 };
  /** Deadlines of the attempts in flight, on one timer (see DeadlineQueue). */
  readonly #deadlines = new DeadlineQueue();
  readonly #canaryLabel: string;
  readonly #logger: Logger;
  readonly #attemptTimeoutMs: number;

  constructor(
    readonly tokens: readonly Pkcs11Token[],
    canaryLabel: string,
    logger: Logger,
    attemptTimeoutMs: number,
  ) {
    this.#canaryLabel = canaryLabel;
    this.#logger = logger;
    this.#attemptTimeoutMs = attemptTimeoutMs;
  }

  /** Connects every token; fails only when none can be reached (the others are probed later). */
  init(): void {
    const failures: string[] = [];
    for (const token of this.tokens) {
      try {
        token.connect();
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    if (failures.length === this.tokens.length) {
      throw new XksError('InternalException', 'No PKCS#11 token could be reached.', { logDetail: failures.join('; '), dependencyFailure: true });
    }
  }

  /** Tokens in the order to try them: serving ones by load, then failed ones by next probe time. */
  order(): readonly Pkcs11Token[] {
    const n = this.tokens.length;
    // One token (the usual setup): nothing to order, and nothing to allocate per request.
    if (n === 1) return this.tokens;
    const start = this.#rotation++ % n;
    const rotated = [...this.tokens.slice(start), ...this.tokens.slice(0, start)];
    const up = rotated.filter((t) => t.isUp).sort((a, b) => a.load - b.load);
    const down = rotated.filter((t) => !t.isUp).sort((a, b) => a.retryAt - b.retryAt);
    return [...up, ...down];
  }

  /**
   * Runs `work` on one token, failing over to others while the deadline allows. Not an
   * async function: each attempt's one promise carries the answer (the token's, or the
   * next attempt's), so the usual call costs no frame here (docs/performance.md).
   */
  run<T>(ctx: CallContext, work: Pkcs11TokenWork<T>): Promise<T> {
    this.#probeFailedTokens();
    return this.#attempt(this.order(), 0, [], ctx, work);
  }

  /**
   * Runs `work` on `order[i]` until its deadline: the request's for the last token, else
   * the attemptTimeoutMs slice of it, so a hung replica leaves time to fail over. A native
   * call cannot be cancelled: on overrun the call keeps its session until it returns, its
   * result is dropped, and the token is marked failed so the next requests go elsewhere
   * until a probe sees it answer. No timer of its own: the fleet's DeadlineQueue watches it.
   */
  #attempt<T>(order: readonly Pkcs11Token[], i: number, failures: string[], ctx: CallContext, work: Pkcs11TokenWork<T>): Promise<T> {
    const token = order[i] as Pkcs11Token;
    const last = i === order.length - 1;
    const deadline = last ? ctx.deadline : Math.min(ctx.deadline, Date.now() + this.#attemptTimeoutMs);
    return new Promise<T>((resolve, reject) => {
      let overrun = false;
      const failed = (e: Error): void => {
        // A token whose sessions are all busy is not broken: try the next one without marking it.
        const poolBusy = isXksError(e) && e.errorName === 'DependencyTimeoutException' && !last;
        if (!(e instanceof Pkcs11TokenUnavailableError) && !poolBusy) return reject(e);
        failures.push(`${token.name}: ${e.message}`);
        if (!last && hasTimeLeft(ctx)) return resolve(this.#attempt(order, i + 1, failures, ctx, work));
        reject(this.#everyTokenFailed(work.op, failures, ctx));
      };
      const running = token.execute(deadline, work);
      const watch = this.#deadlines.add(deadline, () => {
        overrun = true;
        running.catch(() => undefined);
        const reason = `${work.op} did not finish within ${deadline === ctx.deadline ? 'the request budget' : `attemptTimeoutMs (${this.#attemptTimeoutMs} ms)`}`;
        token.markDown(reason);
        failed(new Pkcs11TokenUnavailableError(token.name, reason));
      });
      running.then(
        (value) => {
          watch.cancel();
          resolve(value);
        },
        (e: Error) => {
          watch.cancel();
          // After an overrun the attempt has already failed over; its late error is dropped.
          if (!overrun) failed(e);
        },
      );
    });
  }

  /** The error of a call no token could complete, logged (see #logEveryTokenFailed). */
  #everyTokenFailed(op: string, failures: string[], ctx: CallContext): XksError {
    const timedOut = !hasTimeLeft(ctx);
    this.#logEveryTokenFailed(op, failures, timedOut);
    if (timedOut) {
      return new XksError('DependencyTimeoutException', `The HSM could not complete ${op} within the request budget.`, { dependencyFailure: true });
    }
    // Token failure details (library messages, slot names) stay in the log line above.
    return new XksError('InternalException', `No HSM token could complete ${op}; the proxy log lists each token's failure.`, {
      logDetail: failures.join('; '),
      dependencyFailure: true,
    });
  }

  /**
   * Logs why no token could serve. During an outage every request fails the same way: the
   * same reasons are logged once per REPEAT_LOG_MS, changed ones once per CHANGED_LOG_MS,
   * with the number of failed requests not logged in between (each request still has its
   * own request log line with the errorName).
   */
  #logEveryTokenFailed(op: string, failures: string[], timedOut: boolean): void {
    const reasons = failures.join('; ');
    const now = Date.now();
    const last = this.#lastFailureLog;
    if (now - last.at < (reasons === last.reasons ? REPEAT_LOG_MS : CHANGED_LOG_MS)) {
      last.suppressed += 1;
      return;
    }
    this.#lastFailureLog = { reasons, at: now, suppressed: 0 };
    this.#logger.error({ op, failures, timedOut, failedRequestsNotLogged: last.suppressed }, 'PKCS#11 request failed on every token');
  }

  /** One health entry per token (spec ekmFleetDetails), checked in parallel. */
  health(ctx: CallContext): Promise<EkmHealth[]> {
    return Promise.all(this.tokens.map((t) => checkPkcs11TokenHealth(t, this.#canaryLabel, ctx)));
  }

  /** Waits for background probes (bounded by their own budget) before the tokens close. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#probes.values()]);
    await Promise.all(this.tokens.map((t) => t.close()));
  }

  #probeFailedTokens(): void {
    let now = 0;
    for (const token of this.tokens) {
      if (token.isUp) continue;
      now ||= Date.now();
      if (token.retryAt > now || this.#probes.has(token)) continue;
      const probe = checkPkcs11TokenHealth(token, this.#canaryLabel, callContextWithin(PROBE_BUDGET_MS))
        .catch(() => undefined)
        .finally(() => this.#probes.delete(token));
      this.#probes.set(token, probe);
    }
  }
}
