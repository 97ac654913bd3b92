import type { Logger } from 'pino';
import { isXksError, XksError } from '../xks/errors.ts';
import {
  NO_PROVIDER_STATS,
  type CallContext,
  type EkmHealth,
  type EkmIdentity,
  type GcmInput,
  type GcmOutput,
  type KeyInfo,
  type KeyProvider,
  type KeyRef,
  type ProviderStats,
} from '../xks/key-provider-port.ts';

/**
 * Lifecycle safety for any provider, in one place rather than in each provider:
 * runs `init` once (and again on the next call after it failed), refuses calls after
 * `close`, gives every call the time left of the request's budget (an overrun becomes
 * DependencyTimeoutException; a provider whose calls stay in process, or that enforces
 * the deadline itself, is only refused when no time is left), and turns unexpected errors into
 * InternalException with the detail in the log only.
 */
export class GuardedProvider implements KeyProvider {
  readonly kind: string;
  #initPromise: Promise<void> | undefined;
  /** Set once init succeeded: calls then skip awaiting it (a microtask each). */
  #ready = false;
  #closed = false;
  readonly #inner: KeyProvider;
  readonly #logger: Logger;

  constructor(inner: KeyProvider, logger: Logger) {
    this.#inner = inner;
    this.#logger = logger;
    this.kind = inner.kind;
  }

  init(): Promise<void> {
    if (this.#closed) return Promise.reject(new XksError('InternalException', 'The key provider is shut down.'));
    if (this.#initPromise === undefined) {
      this.#initPromise = this.#inner.init().then(
        () => {
          this.#ready = true;
        },
        (e: unknown) => {
          // Forget the failure so the next call tries again (an HSM that was down may be back).
          this.#initPromise = undefined;
          throw e;
        },
      );
    }
    return this.#initPromise;
  }

  // A provider that needs no deadline race (in process, or enforcing the deadline itself),
  // once initialised, is called directly: no closure, no async frame per call (allocation
  // per request, docs/performance.md); the same checks as `call`, which does the rest.
  describe(keyId: string, ctx: CallContext): Promise<KeyInfo> {
    if (!this.#directNow()) return this.#call('describe', ctx, () => this.#inner.describe(keyId, ctx));
    try {
      checkTimeLeft('describe', ctx);
      return this.#inner.describe(keyId, ctx).then(undefined, this.#unexpected.describe);
    } catch (e) {
      return this.#unexpected.describe(e);
    }
  }

  encrypt(key: KeyRef, plaintext: Uint8Array, aad: Uint8Array, ctx: CallContext): Promise<GcmOutput> {
    if (!this.#directNow()) return this.#call('encrypt', ctx, () => this.#inner.encrypt(key, plaintext, aad, ctx));
    try {
      checkTimeLeft('encrypt', ctx);
      return this.#inner.encrypt(key, plaintext, aad, ctx).then(undefined, this.#unexpected.encrypt);
    } catch (e) {
      return this.#unexpected.encrypt(e);
    }
  }

  decrypt(key: KeyRef, input: GcmInput, aad: Uint8Array, ctx: CallContext): Promise<Uint8Array> {
    if (!this.#directNow()) return this.#call('decrypt', ctx, () => this.#inner.decrypt(key, input, aad, ctx));
    try {
      checkTimeLeft('decrypt', ctx);
      return this.#inner.decrypt(key, input, aad, ctx).then(undefined, this.#unexpected.decrypt);
    } catch (e) {
      return this.#unexpected.decrypt(e);
    }
  }

  // The immediate calls (a key in memory): the same checks as the direct calls above,
  // thrown instead of rejected; undefined when the guard would not call directly, or the
  // provider cannot answer at once (the key store then makes the asynchronous call).
  describeNow(keyId: string, ctx: CallContext): KeyInfo | undefined {
    if (this.#inner.describeNow === undefined || !this.#directNow()) return undefined;
    try {
      checkTimeLeft('describe', ctx);
      return this.#inner.describeNow(keyId, ctx);
    } catch (e) {
      throw this.#failure('describe', e);
    }
  }

  encryptNow(key: KeyRef, plaintext: Uint8Array, aad: Uint8Array, ctx: CallContext): GcmOutput | undefined {
    if (this.#inner.encryptNow === undefined || !this.#directNow()) return undefined;
    try {
      checkTimeLeft('encrypt', ctx);
      return this.#inner.encryptNow(key, plaintext, aad, ctx);
    } catch (e) {
      throw this.#failure('encrypt', e);
    }
  }

  decryptNow(key: KeyRef, input: GcmInput, aad: Uint8Array, ctx: CallContext): Uint8Array | undefined {
    if (this.#inner.decryptNow === undefined || !this.#directNow()) return undefined;
    try {
      checkTimeLeft('decrypt', ctx);
      return this.#inner.decryptNow(key, input, aad, ctx);
    } catch (e) {
      throw this.#failure('decrypt', e);
    }
  }

  #directNow(): boolean {
    return this.#ready && !this.#closed && (this.#inner.callsStayInProcess === true || this.#inner.enforcesDeadline === true);
  }

  /** Rejection handlers, one per operation, made once: an XksError passes, anything else is logged and becomes InternalException. */
  readonly #unexpected = {
    describe: (e: unknown): Promise<never> => Promise.reject(this.#failure('describe', e)),
    encrypt: (e: unknown): Promise<never> => Promise.reject(this.#failure('encrypt', e)),
    decrypt: (e: unknown): Promise<never> => Promise.reject(this.#failure('decrypt', e)),
  };

  /** The inner provider's instances, else one named after the provider kind. */
  fleetIdentity(): EkmIdentity[] {
    const fleet = this.#inner.fleetIdentity?.() ?? [];
    return fleet.length > 0 ? fleet : [{ id: this.kind, model: this.kind }];
  }

  async health(ctx: CallContext): Promise<EkmHealth[]> {
    if (this.#closed) return unavailable(this.fleetIdentity(), 'the key provider is shut down');
    try {
      return await withDeadline('health', ctx, async () => {
        await this.init();
        return this.#inner.health(ctx);
      });
    } catch (e) {
      // Health answers with a status, never an error; the reason (a missing module, a wrong
      // PIN, an unreadable file) is for the operator: readiness logs, config check.
      const detail = isXksError(e) ? (e.logDetail ?? `${e.errorName}: ${e.message}`) : describeError(e).message;
      // Named after the configured file, tokens or servers: init may have failed before the provider knew more.
      return unavailable(this.fleetIdentity(), detail);
    }
  }

  onHealthChange(listener: () => void): void {
    this.#inner.onHealthChange?.(listener);
  }

  /** The provider's counters, forwarded: the guard adds no state of its own to report. */
  stats(): ProviderStats {
    return this.#inner.stats?.() ?? NO_PROVIDER_STATS;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#inner.close();
  }

  /**
   * A call that #directNow() does not take: the provider is not initialised yet, is shut
   * down, or needs the guard's deadline race.
   */
  async #call<T>(operation: string, ctx: CallContext, run: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new XksError('InternalException', 'The key provider is shut down.');
    try {
      return await withDeadline(operation, ctx, async () => {
        if (!this.#ready) await this.init();
        return run();
      });
    } catch (e) {
      throw this.#failure(operation, e);
    }
  }

  /** The error a call fails with: an XksError as it is, anything else logged and made InternalException. */
  #failure(operation: string, e: unknown): XksError {
    if (isXksError(e)) return e;
    // Provider bugs and library errors: detail for the operator, nothing for the client.
    this.#logger.error({ provider: this.kind, operation, err: describeError(e) }, 'key provider failed unexpectedly');
    return new XksError('InternalException', `The ${this.kind} key manager failed during ${operation}.`);
  }
}

/** Every instance UNAVAILABLE for one reason. */
export function unavailable(fleet: readonly EkmIdentity[], detail: string): EkmHealth[] {
  return fleet.map(({ id, model }) => ({ id, model, healthStatus: 'UNAVAILABLE', detail }));
}

/** The ms left of the request's budget; throws DependencyTimeoutException when none is. */
function checkTimeLeft(operation: string, ctx: CallContext): number {
  const remaining = ctx.deadline - Date.now();
  if (remaining <= 0) {
    throw new XksError('DependencyTimeoutException', `No time was left of the request budget for ${operation}; the key manager or the proxy is overloaded.`);
  }
  return remaining;
}

/** Races `run` against the call's deadline. */
async function withDeadline<T>(operation: string, ctx: CallContext, run: () => Promise<T>): Promise<T> {
  const remaining = checkTimeLeft(operation, ctx);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new XksError('DependencyTimeoutException', `The key manager did not answer ${operation} within the ${remaining} ms left of the request budget.`, {
            dependencyFailure: true,
          }),
        ),
      remaining,
    );
  });
  try {
    return await Promise.race([run(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Error description for logs: message and code, never request data. */
function describeError(e: unknown): { message: string; code?: unknown } {
  if (e instanceof Error) return { message: e.message, code: (e as { code?: unknown }).code };
  return { message: String(e) };
}
