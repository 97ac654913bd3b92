import type { Logger } from 'pino';
import { XksError } from '../../xks/errors.ts';
import type { CallContext, EkmHealth } from '../key-provider.ts';
import { checkPkcs11TokenHealth } from './pkcs11-token-health.ts';
import { hasTimeLeft, Pkcs11TokenUnavailableError, type Pkcs11Token, type Pkcs11TokenWork } from './pkcs11-token.ts';

/** How long a background probe of a failed token may take. */
const PROBE_BUDGET_MS = 5000;

/**
 * Several tokens holding the same keys (HSM replicas). Work goes to the least loaded
 * serving token (rotating among equals) and fails over to the next one within the
 * request's deadline; failed tokens are probed in the background with a growing rest
 * and are tried in a request only when no serving token could answer.
 */
export class Pkcs11Fleet {
  private rotation = 0;
  private readonly probes = new Map<Pkcs11Token, Promise<unknown>>();

  constructor(
    readonly tokens: readonly Pkcs11Token[],
    private readonly canaryLabel: string,
    private readonly logger: Logger,
  ) {}

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
      throw new XksError('InternalException', 'No PKCS#11 token could be reached.', { logDetail: failures.join('; ') });
    }
  }

  /** Tokens in the order to try them: serving ones by load, then failed ones by next probe time. */
  order(): Pkcs11Token[] {
    const n = this.tokens.length;
    const start = this.rotation++ % n;
    const rotated = [...this.tokens.slice(start), ...this.tokens.slice(0, start)];
    const up = rotated.filter((t) => t.isUp).sort((a, b) => a.load - b.load);
    const down = rotated.filter((t) => !t.isUp).sort((a, b) => a.retryAt - b.retryAt);
    return [...up, ...down];
  }

  /** Runs `work` on one token, failing over to others while the deadline allows. */
  async run<T>(ctx: CallContext, work: Pkcs11TokenWork<T>): Promise<T> {
    this.probeFailedTokens();
    const failures: string[] = [];
    for (const token of this.order()) {
      if (failures.length > 0 && !hasTimeLeft(ctx)) break;
      try {
        return await token.execute(ctx, work);
      } catch (e) {
        if (!(e instanceof Pkcs11TokenUnavailableError)) throw e;
        failures.push(e.message);
      }
    }
    const timedOut = !hasTimeLeft(ctx);
    this.logger.error({ op: work.op, failures, timedOut }, 'PKCS#11 request failed on every token');
    if (timedOut) {
      throw new XksError('DependencyTimeoutException', `The HSM could not complete ${work.op} within the request budget.`);
    }
    throw new XksError('InternalException', `No HSM token could complete ${work.op}: ${failures.join('; ')}`);
  }

  /** One health entry per token (spec ekmFleetDetails), checked in parallel. */
  health(ctx: CallContext): Promise<EkmHealth[]> {
    return Promise.all(this.tokens.map((t) => checkPkcs11TokenHealth(t, this.canaryLabel, ctx)));
  }

  /** Waits for background probes (bounded by their own budget) before the tokens close. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.probes.values()]);
    await Promise.all(this.tokens.map((t) => t.close()));
  }

  private probeFailedTokens(): void {
    const now = Date.now();
    for (const token of this.tokens) {
      if (token.isUp || token.retryAt > now || this.probes.has(token)) continue;
      const controller = new AbortController();
      const probe = checkPkcs11TokenHealth(token, this.canaryLabel, { deadline: now + PROBE_BUDGET_MS, signal: controller.signal })
        .catch(() => undefined)
        .finally(() => this.probes.delete(token));
      this.probes.set(token, probe);
    }
  }
}
