import type { RequestEvent } from '../xks/request-event.ts';

/** The last GetHealthStatus call of one key store. */
export interface HealthCallRecord {
  at: number;
  status: number;
  latencyMs: number;
  kmsOperation?: string;
  errorName?: string;
  reason?: string;
  /** Of the request, when its body had one: lets `xks-proxy doctor` find its own call. */
  kmsRequestId?: string;
}

/** The most recent error of one errorName. */
export interface ErrorRecord {
  errorName: string;
  count: number;
  lastAt: number;
  status: number;
  operation?: string;
  /** The operator-only reason (e.g. `sigv4 date-out-of-window: ... 600 s in the past`). */
  reason?: string;
  kmsRequestId?: string;
}

/** Use of one access key id (only after SigV4 accepted it). */
export interface CredentialUse {
  lastUsedAt: number;
  requests: number;
}

/** What one key store (one prefix) has seen since the proxy started. */
export interface KeyStoreActivity {
  requests: { ok: number; error: number };
  lastRequestAt?: number;
  lastSuccessAt?: number;
  lastHealthCall?: HealthCallRecord;
  errors: Map<string, ErrorRecord>;
  credentials: Map<string, CredentialUse>;
}

/** Requests that matched no configured key store. */
export interface UnroutedActivity {
  /** Per unknown prefix: how often and when last (at most MAX_UNKNOWN_PREFIXES kept). */
  unknownPrefixes: Map<string, { count: number; lastAt: number }>;
  /** Paths that are not XKS paths at all (scanners, health probes on the wrong path). */
  otherPaths: { count: number; lastAt?: number; lastReason?: string };
}

/** Unknown prefixes come from the network: keep only the most recent few. */
const MAX_UNKNOWN_PREFIXES = 20;

/**
 * Records, per key store, what the status view shows: the last GetHealthStatus and its
 * result, the last error of each errorName, and when each credential was last used. It is
 * an app observer (AppDeps.observers): `tracker.observe` receives every finished request.
 * This is how an operator tells "KMS never reached us" from "KMS reached us and we refused".
 */
export class StatusTracker {
  readonly startedAt: number;
  readonly #stores = new Map<string, KeyStoreActivity>();
  readonly #unrouted: UnroutedActivity = { unknownPrefixes: new Map(), otherPaths: { count: 0 } };
  readonly #isConfigured: (prefix: string) => boolean;

  /** `isConfigured` tells a configured prefix from an unknown one (e.g. `p => tenants.get(p) !== undefined`). */
  constructor(isConfigured: (prefix: string) => boolean, now: () => number = Date.now) {
    this.#isConfigured = isConfigured;
    this.startedAt = now();
  }

  /** The observer to put in AppDeps.observers; never throws. */
  readonly observe = (event: RequestEvent): void => {
    if (event.prefix === undefined) {
      const other = this.#unrouted.otherPaths;
      other.count++;
      other.lastAt = event.at;
      if (event.reason !== undefined) other.lastReason = event.reason;
      return;
    }
    if (!this.#isConfigured(event.prefix)) {
      // The prefix comes from the network: keep it short (spec limit of XksProxyUriPath).
      this.#noteUnknownPrefix(event.prefix.slice(0, 128), event.at);
      return;
    }
    const store = this.#store(event.prefix);
    store.lastRequestAt = event.at;
    if (event.outcome === 'ok') {
      store.requests.ok++;
      store.lastSuccessAt = event.at;
    } else if (event.outcome === 'error') {
      store.requests.error++;
      const name = event.errorName ?? `HTTP ${event.status}`;
      const previous = store.errors.get(name);
      store.errors.set(name, {
        errorName: name,
        count: (previous?.count ?? 0) + 1,
        lastAt: event.at,
        status: event.status,
        ...(event.operation !== undefined ? { operation: event.operation } : {}),
        ...(event.reason !== undefined ? { reason: event.reason } : {}),
        ...(event.kmsRequestId !== undefined ? { kmsRequestId: event.kmsRequestId } : {}),
      });
    }
    if (event.operation === 'health') {
      store.lastHealthCall = {
        at: event.at,
        status: event.status,
        latencyMs: event.latencyMs,
        ...(event.kmsOperation !== undefined ? { kmsOperation: event.kmsOperation } : {}),
        ...(event.errorName !== undefined ? { errorName: event.errorName } : {}),
        ...(event.reason !== undefined ? { reason: event.reason } : {}),
        ...(event.kmsRequestId !== undefined ? { kmsRequestId: event.kmsRequestId } : {}),
      };
    }
    if (event.accessKeyId !== undefined) {
      const use = store.credentials.get(event.accessKeyId);
      if (use === undefined) store.credentials.set(event.accessKeyId, { lastUsedAt: event.at, requests: 1 });
      else {
        use.lastUsedAt = event.at;
        use.requests++;
      }
    }
  };

  /** What a key store has seen (empty activity when nothing yet). */
  activity(prefix: string): KeyStoreActivity {
    return this.#stores.get(prefix) ?? emptyActivity();
  }

  /** Requests that reached no key store. */
  unrouted(): UnroutedActivity {
    return this.#unrouted;
  }

  #store(prefix: string): KeyStoreActivity {
    let store = this.#stores.get(prefix);
    if (store === undefined) {
      store = emptyActivity();
      this.#stores.set(prefix, store);
    }
    return store;
  }

  #noteUnknownPrefix(prefix: string, at: number): void {
    const map = this.#unrouted.unknownPrefixes;
    const entry = map.get(prefix);
    map.delete(prefix); // re-insert so the map stays ordered by last use
    map.set(prefix, { count: (entry?.count ?? 0) + 1, lastAt: at });
    if (map.size > MAX_UNKNOWN_PREFIXES) map.delete(map.keys().next().value as string);
  }
}

function emptyActivity(): KeyStoreActivity {
  return { requests: { ok: 0, error: 0 }, errors: new Map(), credentials: new Map() };
}
