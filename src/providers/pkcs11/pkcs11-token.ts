import { basename } from 'node:path';
import type { Logger } from 'pino';
import { isXksError, XksError } from '../../xks/errors.ts';
import { GCM_IV_BYTES } from '../../xks/gcm-sizes.ts';
import type { CallContext, PoolStats } from '../../xks/key-provider-port.ts';
import { randomIv } from '../random-iv.ts';
import type { Pkcs11Api, Pkcs11Handle, Pkcs11Loader } from './pkcs11-api.ts';
import { Pkcs11CallError } from './pkcs11-call-error.ts';
import { CKA, CKR, CKS_USER_STATES } from './pkcs11-constants.ts';
import { hasPkcs11Code } from './pkcs11-error-code.ts';
import { classifyPkcs11Failure, describePkcs11Error, type Pkcs11Operation } from './pkcs11-failure.ts';
import { findObjects, lookupAesKey, type Pkcs11KeyEntry } from './pkcs11-key-lookup.ts';
import { Pkcs11Login, type Pkcs11PinSource } from './pkcs11-login.ts';
import { acquirePkcs11Module, type Pkcs11Module } from './pkcs11-module-registry.ts';
import { Pkcs11SessionPool, type Pkcs11Lease, type Pkcs11ReleaseOutcome } from './pkcs11-session-pool.ts';
import { findTokenSlot, type Pkcs11Slot, type Pkcs11TokenSelector } from './pkcs11-slot.ts';

/** Where a new GCM IV comes from (config `ivSource`). */
export type Pkcs11IvSource = 'os' | 'token-rng' | 'token-generated';

/** Everything one token needs; built from the provider config. */
export interface Pkcs11TokenOptions {
  name: string;
  modulePath: string;
  selector: Pkcs11TokenSelector;
  /** Where the user PIN comes from; undefined: the token is used without login (config `login: none`). */
  pin: Pkcs11PinSource | undefined;
  /** C_Initialize library parameters of the module (config `libraryParameters`). */
  libraryParameters: string | undefined;
  /** C_OpenSession flags of every session (CKF_SERIAL_SESSION, plus CKF_RW_SESSION if configured). */
  sessionFlags: number;
  poolSize: number;
  keyCacheMs: number;
  retryMs: number;
  ivSource: Pkcs11IvSource;
  /** CKA_LABEL of the health canary: a second witness when a key goes missing (see storageLossSign). */
  canaryLabel?: string;
  loader: Pkcs11Loader;
  logger: Logger;
}

/** One unit of work on a pooled session of a token. */
export interface Pkcs11TokenWork<T> {
  op: Pkcs11Operation;
  /** CKA_LABEL of the key the work uses, so a stale cache entry can be dropped. */
  label: string;
  /** May also throw at once (a key lookup or C_*Init failure): `execute` handles both alike. */
  run: (session: Pkcs11Handle, token: Pkcs11Token) => Promise<T>;
}

/** The token could not do the work, even after replacing its session and logging in again. */
export class Pkcs11TokenUnavailableError extends Error {
  constructor(
    readonly tokenName: string,
    readonly detail: string,
  ) {
    super(`PKCS#11 token ${tokenName}: ${detail}`);
    this.name = 'Pkcs11TokenUnavailableError';
  }
}

/**
 * A key this token served before is not found now, and the token itself looks broken
 * (token info unreadable, or the health canary gone too): its storage is lost, which is an
 * outage, never "key not found" (issue 15: SoftHSM2 with its token directory moved away).
 */
export class Pkcs11StorageLostError extends Error {
  constructor(readonly detail: string) {
    super(detail);
    this.name = 'Pkcs11StorageLostError';
  }
}

/** Labels remembered as "found before" per token; beyond this many, the oldest are forgotten. */
const MAX_SEEN_LABELS = 100_000;

/** Time a retry needs at least; below it the request's 250 ms budget is treated as spent. */
const MIN_RETRY_MS = 5;
/** Longest rest between probes of a failed token. */
const MAX_RETRY_MS = 60_000;

/**
 * True when the call still has time for another attempt. Only the deadline is read: the
 * call's signal fires at that same deadline, and reading it would make the request create
 * a timer (and, 250 ms later, a DOMException) that it never needs (docs/performance.md).
 */
export function hasTimeLeft(ctx: CallContext): boolean {
  return timeLeftUntil(ctx.deadline);
}

/** True when `deadline` (epoch ms) leaves time for another attempt. */
function timeLeftUntil(deadline: number): boolean {
  return deadline - Date.now() > MIN_RETRY_MS;
}

/** Codes that say the session no longer exists: forget its handle, never close it (it may be reused). */
const SESSION_GONE = new Set<number>([CKR.SESSION_HANDLE_INVALID, CKR.SESSION_CLOSED, CKR.CRYPTOKI_NOT_INITIALIZED]);

/** Codes after which every session of the token is suspect, not just the one that failed. */
const SESSIONS_LOST = new Set<number>([
  CKR.SESSION_HANDLE_INVALID,
  CKR.SESSION_CLOSED,
  CKR.DEVICE_ERROR,
  CKR.DEVICE_MEMORY,
  CKR.DEVICE_REMOVED,
  CKR.TOKEN_NOT_PRESENT,
  CKR.TOKEN_NOT_RECOGNIZED,
  CKR.CRYPTOKI_NOT_INITIALIZED,
]);

/**
 * One PKCS#11 token (HSM partition): its slot, a control session that holds the login,
 * a pool of sessions for crypto, a cache of key handles, and its up/down state. Recovery
 * (re-initialize the library, find the slot again, replace sessions, log in again) is
 * synchronous PKCS#11 calls only, so concurrent failures cannot interleave it.
 */
export class Pkcs11Token {
  readonly name: string;
  #module: Pkcs11Module | undefined;
  #moduleGeneration = 0;
  #slot: Pkcs11Slot | undefined;
  #knownModel: string | undefined;
  #control: Pkcs11Handle | undefined;
  #pool: Pkcs11SessionPool | undefined;
  readonly #login: Pkcs11Login;
  readonly #keys = new Map<string, { entry: Pkcs11KeyEntry; expires: number }>();
  /** Labels this token has served: one missing later is checked as a possible outage. */
  readonly #seenLabels = new Set<string>();
  /**
   * Set when the token's storage was lost (Pkcs11StorageLostError): recovery then
   * re-initializes the library (C_Finalize + C_Initialize), at most once per `retryMs`,
   * until the token answers with its keys again.
   */
  #storageLost = false;
  /** When the next library restart may be tried while `storageLost` (epoch ms). */
  #restartAt = 0;
  #up = false;
  #closed = false;
  #consecutiveFailures = 0;
  /** Operations on side sessions (health canary) still running; close waits for them. */
  readonly #sideWork = new Set<Promise<unknown>>();
  /** Why the token is down (log-safe), or undefined while up. */
  downReason: string | undefined = 'not connected yet';
  /** When a down token may be probed again (epoch ms). */
  retryAt = 0;
  readonly #opts: Pkcs11TokenOptions;

  constructor(opts: Pkcs11TokenOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.#login = new Pkcs11Login(opts.pin);
  }

  /** True while the token serves requests. */
  get isUp(): boolean {
    return this.#up;
  }

  /**
   * The token's model for ekmFleetDetails: the token's own once it was reached (kept when
   * it goes down later), else the library's file name from the config.
   */
  get model(): string {
    if (this.#slot !== undefined) this.#knownModel = this.#slot.model;
    return this.#knownModel ?? `PKCS#11 token (${basename(this.#opts.modulePath)})`;
  }

  /** Busy plus waiting sessions: the fleet sends new work to the least loaded token. */
  get load(): number {
    const s = this.#pool?.stats();
    return s === undefined ? 0 : s.busy + s.waiting;
  }

  /** Pool counters (tests, diagnostics). */
  poolStats(): PoolStats | undefined {
    return this.#pool?.stats();
  }

  /** The loaded library (for the health canary and key admin); connects first if needed. */
  api(): Pkcs11Api {
    if (this.#module === undefined) this.#recover();
    return (this.#module as Pkcs11Module).api;
  }

  /**
   * Makes the token usable: loads the library, finds the slot, opens the control session
   * and logs in. Called at start and after failures; throws (and marks the token down)
   * when the token cannot be reached.
   */
  connect(): void {
    try {
      this.#recover();
      this.#noteCanary();
      // Reachable and logged in; the failure count (probe back-off) resets only when work succeeds.
      this.markUp(false);
    } catch (e) {
      this.markDown(describePkcs11Error(e));
      throw new Pkcs11TokenUnavailableError(this.name, describePkcs11Error(e));
    }
  }

  /** Remembers the health canary as "found before" if it is there, so a later loss of storage has a second witness. */
  #noteCanary(): void {
    const canary = this.#opts.canaryLabel;
    if (canary === undefined || this.#seenLabels.has(canary) || this.#control === undefined) return;
    try {
      if (findObjects(this.api(), this.#control, [{ type: CKA.LABEL, value: canary }], 1).length > 0) this.#rememberLabel(canary);
    } catch {
      // Only a witness: the health check reports a missing or broken canary.
    }
  }

  /** A key entry from the cache without touching the token, if fresh. */
  cachedKey(label: string): Pkcs11KeyEntry | undefined {
    const hit = this.#keys.get(label);
    return hit !== undefined && hit.expires > Date.now() ? hit.entry : undefined;
  }

  /** The key labelled `label`, from the cache or looked up on `session`. */
  key(session: Pkcs11Handle, label: string): Pkcs11KeyEntry {
    const cached = this.cachedKey(label);
    if (cached !== undefined) return cached;
    let entry: Pkcs11KeyEntry;
    try {
      entry = this.#lookupServedKey(session, label);
    } catch (e) {
      if (isXksError(e) && e.errorName === 'KeyNotFoundException' && this.#seenLabels.has(label)) {
        const lost = this.#storageLossSign(session, label);
        if (lost !== undefined) throw new Pkcs11StorageLostError(`key "${label}" was found before and is missing now, and ${lost}: token storage lost`);
        // The token is fine: the key was deleted. From now on its absence is ordinary.
        this.#seenLabels.delete(label);
      }
      throw e;
    }
    this.#rememberLabel(label);
    if (this.#opts.keyCacheMs > 0) this.#keys.set(label, { entry, expires: Date.now() + this.#opts.keyCacheMs });
    return entry;
  }

  /**
   * Looks a key up; a key this token served before that is not found is looked up once
   * more. Another process logging the token out between the search and lookupAesKey's
   * session-state check (and another request logging in again) makes a served key look
   * missing for one search: without the second look that read as a deleted key, or, with
   * the canary search also logged out, as lost storage and a library restart.
   */
  #lookupServedKey(session: Pkcs11Handle, label: string): Pkcs11KeyEntry {
    try {
      return lookupAesKey(this.api(), session, label, this.#login.required);
    } catch (e) {
      if (!(isXksError(e) && e.errorName === 'KeyNotFoundException' && this.#seenLabels.has(label))) throw e;
      return lookupAesKey(this.api(), session, label, this.#login.required);
    }
  }

  #rememberLabel(label: string): void {
    if (this.#seenLabels.has(label)) return;
    if (this.#seenLabels.size >= MAX_SEEN_LABELS) this.#seenLabels.delete(this.#seenLabels.values().next().value as string);
    this.#seenLabels.add(label);
  }

  /**
   * Why the token looks broken after a key it served went missing, or undefined when it
   * looks fine (then the key was really deleted). Two independent signs: the token's info
   * cannot be read (SoftHSM2 answers CKR_GENERAL_ERROR once its storage vanished), or the
   * health canary, found before, is gone too (an operator deletes customer keys, not the canary).
   */
  #storageLossSign(session: Pkcs11Handle, label: string): string | undefined {
    const api = this.api();
    // Logged out meanwhile: a private canary is invisible too, which is not lost storage.
    this.#throwIfLoggedOut(session);
    try {
      api.C_GetTokenInfo((this.#slot as Pkcs11Slot).slot);
    } catch (e) {
      return `the token info cannot be read (${describePkcs11Error(e)})`;
    }
    const canary = this.#opts.canaryLabel;
    if (canary !== undefined && canary !== label && this.#seenLabels.has(canary)) {
      let found: number;
      try {
        found = findObjects(api, session, [{ type: CKA.LABEL, value: canary }], 1).length;
      } catch (e) {
        return `the search for the health canary failed (${describePkcs11Error(e)})`;
      }
      if (found === 0) {
        // Another process may log the token out between the check above and this search
        // (the logout-chaos test did, under load): the canary is then invisible, not gone.
        this.#throwIfLoggedOut(session);
        return `the health canary "${canary}" is missing too`;
      }
    }
    return undefined;
  }

  /** Throws CKR_USER_NOT_LOGGED_IN when the token needs a login and `session` is not logged in now. */
  #throwIfLoggedOut(session: Pkcs11Handle): void {
    if (this.#login.required && !CKS_USER_STATES.has(this.api().C_GetSessionInfo(session).state)) throw new Pkcs11CallError(CKR.USER_NOT_LOGGED_IN);
  }

  /** A fresh 12-byte IV from the configured source (spec Encrypt: 12 or 16 bytes; 12 is GCM's native size). */
  newIv(session: Pkcs11Handle): Buffer {
    switch (this.#opts.ivSource) {
      case 'os':
        return randomIv();
      case 'token-rng':
        return this.api().C_GenerateRandom(session, Buffer.alloc(GCM_IV_BYTES));
      case 'token-generated':
        // The token writes its IV into this buffer during the operation (pIv is passed by reference).
        return Buffer.alloc(GCM_IV_BYTES);
    }
  }

  /** True when the token writes the IV during encrypt (ivSource token-generated): its output then needs checkGeneratedIv. */
  get generatesIv(): boolean {
    return this.#opts.ivSource === 'token-generated';
  }

  /** `out` as it is; fails when a token that should generate the IV left it empty (the ciphertext is then never returned). */
  checkGeneratedIv<T extends { iv: Uint8Array }>(out: T): T {
    if (this.generatesIv && out.iv.every((b) => b === 0)) {
      this.#opts.logger.error({ token: this.name }, 'ivSource is token-generated but the token returned no IV; use ivSource os or token-rng');
      throw new XksError('InternalException', 'The HSM did not generate an IV (ivSource token-generated); see the proxy log.');
    }
    return out;
  }

  /**
   * Runs `work` on a pooled session. A stale key handle, a lost session, a logged-out
   * token or a device error leads to recovery and one retry (if the deadline allows);
   * errors that are the request's own (bad tag, key usage) are answered at once.
   * Throws Pkcs11TokenUnavailableError when the token cannot serve, so the fleet may fail over.
   */
  async execute<T>(deadline: number, work: Pkcs11TokenWork<T>): Promise<T> {
    let lastFailure = 'no attempt was made before the deadline';
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt > 0 && !timeLeftUntil(deadline)) break;
      if (this.#closed) throw new XksError('InternalException', 'The PKCS#11 provider is shut down.');
      this.#ensureConnected();
      const pool = this.#pool as Pkcs11SessionPool;
      let lease: Pkcs11Lease | undefined;
      let outcome: Pkcs11ReleaseOutcome = 'keep';
      try {
        // A free session without a promise; else wait (the pool's wait watches the deadline).
        lease = pool.tryAcquire() ?? (await pool.acquire(deadline));
        const result = await work.run(lease.session, this);
        this.markUp();
        return result;
      } catch (e) {
        if (isXksError(e)) throw e;
        if (e instanceof Pkcs11StorageLostError) {
          this.#storageLostNow(e.detail);
          throw new Pkcs11TokenUnavailableError(this.name, e.detail);
        }
        const failure = classifyPkcs11Failure(e, work.op);
        lastFailure = `${work.op} failed with ${describePkcs11Error(e)}`;
        switch (failure.action) {
          case 'answer':
            if (failure.discardSession) outcome = 'close';
            // The cached usages may be stale if the token refused the key: read them again next time.
            if (failure.error.errorName !== 'InvalidCiphertextException') this.#keys.delete(work.label);
            throw failure.error;
          case 'internal':
            outcome = 'close';
            if (failure.code === undefined) throw e;
            this.#opts.logger.error({ token: this.name, op: work.op, error: describePkcs11Error(e) }, 'PKCS#11 call failed unexpectedly');
            throw new XksError('InternalException', `The HSM failed the ${work.op} operation (${describePkcs11Error(e)}).`);
          case 'pin':
            this.markDown(describePkcs11Error(e));
            throw new Pkcs11TokenUnavailableError(this.name, describePkcs11Error(e));
          case 'key-handle':
            this.#keys.delete(work.label);
            this.#recoverOrThrow(failure.code);
            break;
          case 'recover':
            outcome = SESSION_GONE.has(failure.code) ? 'forget' : 'close';
            this.#recoverOrThrow(failure.code);
            break;
        }
      } finally {
        if (lease !== undefined) pool.release(lease, outcome);
      }
    }
    this.markDown(lastFailure);
    throw new Pkcs11TokenUnavailableError(this.name, lastFailure);
  }

  /** Releases sessions and the library; waits (bounded) for operations in flight. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const drained = ((await this.#pool?.close()) ?? true) && (await this.#sideWorkDone(5000));
    if (this.#control !== undefined) this.closeQuietly(this.#control);
    this.#control = undefined;
    this.#keys.clear();
    // Finalizing the library under a running native operation would crash the process:
    // if something is still in flight, keep the library loaded instead.
    if (drained) this.#module?.release();
    else this.#opts.logger.warn({ token: this.name }, 'PKCS#11 operations still running at shutdown; library left loaded');
    this.#module = undefined;
  }

  #recoverOrThrow(code: number): void {
    try {
      this.#recover(code);
      this.#opts.logger.info({ token: this.name, after: describePkcs11Error(new Pkcs11CallError(code)) }, 'PKCS#11 token recovered; retrying');
    } catch (e) {
      this.markDown(describePkcs11Error(e));
      throw new Pkcs11TokenUnavailableError(this.name, describePkcs11Error(e));
    }
  }

  /** Brings library, slot, control session and login back; `code` is what failed (undefined at first connect). */
  #recover(code?: number): void {
    if (this.#closed) throw new XksError('InternalException', 'The PKCS#11 provider is shut down.');
    if (this.#module === undefined) {
      this.#module = acquirePkcs11Module(this.#opts.modulePath, this.#opts.loader, () => this.#hasWorkInFlight(), this.#opts.libraryParameters);
      this.#moduleGeneration = this.#module.generation;
    }
    const module = this.#module;
    if (this.#storageLost) {
      // Sessions, handles and even the slot list stay broken in SoftHSM2 until the library
      // is initialized again (measured), so nothing short of a restart brings the keys back.
      this.#restartAt = Date.now() + this.#opts.retryMs;
      if (!module.restartWhenIdle(this.#moduleGeneration)) {
        throw new Error('token storage lost; the PKCS#11 library is re-initialized once operations in flight finish');
      }
      this.#opts.logger.warn({ token: this.name }, 'PKCS#11 library re-initialized (C_Finalize + C_Initialize) after the token storage was lost');
    }
    // A library finalized behind our back says so with CKR_CRYPTOKI_NOT_INITIALIZED on
    // SoftHSM2, but NSS softoken answers session calls with CKR_SESSION_HANDLE_INVALID and
    // lists no slots (measured): after a lost session, ask the known slot whether the
    // library is still initialized before looking for the token again.
    const finalized =
      code === CKR.CRYPTOKI_NOT_INITIALIZED ||
      (code !== undefined && SESSIONS_LOST.has(code) && this.#slot !== undefined && isFinalized(module.api, this.#slot.slot));
    if (finalized) module.reinitialize(this.#moduleGeneration);
    if (module.generation !== this.#moduleGeneration) {
      // The library was initialized again: every session and handle from before is gone.
      this.#moduleGeneration = module.generation;
      this.#control = undefined;
      this.#slot = undefined;
      this.#keys.clear();
      this.#pool?.reset();
    }
    const api = module.api;
    if (code !== undefined && SESSIONS_LOST.has(code)) {
      // Closed behind our back (one session or all), or the device reset: drop the dead ones.
      this.#pool?.prune((s) => isSessionAlive(api, s));
      this.#slot = undefined;
    }
    this.#slot ??= findTokenSlot(api, this.#opts.selector);
    // A dead control session is forgotten, not closed (its handle may belong to a new session now).
    if (this.#control !== undefined && !isSessionAlive(api, this.#control)) this.#control = undefined;
    this.#control ??= api.C_OpenSession(this.#slot.slot, this.#opts.sessionFlags);
    // Handles of private objects die with the login (SoftHSM2 gives new ones after C_Login).
    if (this.#login.ensure(api, this.#control)) this.#keys.clear();
    this.#pool ??= new Pkcs11SessionPool({
      name: this.name,
      size: this.#opts.poolSize,
      open: () => api.C_OpenSession((this.#slot as Pkcs11Slot).slot, this.#opts.sessionFlags),
      close: (s) => api.C_CloseSession(s),
    });
    if (this.#storageLost) {
      // Slot found and logged in again: the storage answers. Keys missing from now on are checked afresh.
      this.#storageLost = false;
      // The canary is a witness only if it is there now: one deleted during the outage must
      // not make every later "not found" look like another loss (a restart loop).
      if (this.#opts.canaryLabel !== undefined) this.#seenLabels.delete(this.#opts.canaryLabel);
      this.#noteCanary();
      this.#opts.logger.info({ token: this.name }, 'PKCS#11 token storage is back');
    }
  }

  /**
   * Connects a token that is down, or whose library was re-initialized by another token on
   * the same module (its session handles are void and may be reused by new sessions). While
   * the storage is lost, a request does not restart the library itself before `restartAt`:
   * under load every request would otherwise pay a C_Finalize + C_Initialize.
   */
  #ensureConnected(): void {
    const stale = this.#module !== undefined && this.#module.generation !== this.#moduleGeneration;
    if (this.#up && !stale) return;
    if (this.#storageLost && Date.now() < this.#restartAt) {
      throw new Pkcs11TokenUnavailableError(this.name, this.downReason ?? 'token storage lost');
    }
    this.connect();
  }

  /** Enters the storage-lost state (see Pkcs11StorageLostError); logged once per outage. */
  #storageLostNow(detail: string): void {
    if (!this.#storageLost) {
      this.#opts.logger.error(
        { token: this.name, reason: detail },
        'PKCS#11 token storage lost: answering as an outage, not "key not found", until the token is back',
      );
      this.#storageLost = true;
      // restartAt is left as the last restart set it: a loss right after a recovery waits
      // tokenRetrySeconds, so the library is restarted at most once per that interval.
      this.#keys.clear();
    }
    this.markDown(detail);
  }

  /** True while a pooled or side session runs a native operation (a library restart must wait). */
  #hasWorkInFlight(): boolean {
    return (this.#pool?.stats().busy ?? 0) > 0 || this.#sideWork.size > 0;
  }

  /** Marks the token as serving again (logs the transition); `workDone` resets the probe back-off. */
  markUp(workDone = true): void {
    if (!this.#up && this.downReason !== 'not connected yet') {
      this.#opts.logger.info({ token: this.name }, 'PKCS#11 token is serving again');
    }
    this.#up = true;
    this.downReason = undefined;
    if (workDone) this.#consecutiveFailures = 0;
  }

  /** Marks the token as failed; it is probed again after a growing rest (logs the transition). */
  markDown(reason: string): void {
    if (this.#up || this.downReason === 'not connected yet') {
      this.#opts.logger.error({ token: this.name, reason }, 'PKCS#11 token unavailable; requests go to other tokens and it is probed again');
    }
    this.#up = false;
    this.downReason = reason;
    this.#consecutiveFailures += 1;
    this.retryAt = Date.now() + Math.min(MAX_RETRY_MS, this.#opts.retryMs * 2 ** (this.#consecutiveFailures - 1));
  }

  /**
   * Runs `work` on a short-lived session outside the pool (the health canary, so a busy
   * pool cannot make a healthy token look dead), connecting first if needed. The session
   * is closed only after the work settles: SoftHSM2 crashes when a session is closed
   * under a running operation (measured), and close() waits for this work too.
   */
  async withSideSession<T>(work: (session: Pkcs11Handle) => Promise<T>): Promise<T> {
    if (this.#closed) throw new XksError('InternalException', 'The PKCS#11 provider is shut down.');
    this.#ensureConnected();
    const session = this.api().C_OpenSession((this.#slot as Pkcs11Slot).slot, this.#opts.sessionFlags);
    const run = work(session).then(
      (result) => {
        this.closeQuietly(session);
        return result;
      },
      (e: unknown) => {
        if (!hasPkcs11Code(e, ...SESSION_GONE)) this.closeQuietly(session);
        if (e instanceof Pkcs11StorageLostError) {
          this.#storageLostNow(e.detail);
          throw new Pkcs11TokenUnavailableError(this.name, e.detail);
        }
        throw e;
      },
    );
    const tracked = run.catch(() => undefined).finally(() => this.#sideWork.delete(tracked));
    this.#sideWork.add(tracked);
    return run;
  }

  async #sideWorkDone(timeoutMs: number): Promise<boolean> {
    if (this.#sideWork.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = Promise.allSettled([...this.#sideWork]).then(() => true);
    const result = await Promise.race([done, timedOut]);
    clearTimeout(timer);
    return result;
  }

  /** Closes a session, ignoring a session that is already gone. */
  closeQuietly(session: Pkcs11Handle): void {
    try {
      this.#module?.api.C_CloseSession(session);
    } catch {
      // Already closed (behind our back or by a library re-initialization).
    }
  }

  /** Recovery entry for the health check: same steps as after a failed request. */
  recoverAfter(code: number): void {
    this.#recoverOrThrow(code);
  }
}

/** True when the library answers a call on `slot` with CKR_CRYPTOKI_NOT_INITIALIZED. */
function isFinalized(api: Pkcs11Api, slot: Pkcs11Handle): boolean {
  try {
    api.C_GetTokenInfo(slot);
    return false;
  } catch (e) {
    return hasPkcs11Code(e, CKR.CRYPTOKI_NOT_INITIALIZED);
  }
}

/** True when the library still knows `session` (C_GetSessionInfo succeeds). */
function isSessionAlive(api: Pkcs11Api, session: Pkcs11Handle): boolean {
  try {
    api.C_GetSessionInfo(session);
    return true;
  } catch {
    return false;
  }
}
