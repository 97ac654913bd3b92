import type { CredentialSet } from '../auth/credential-set.ts';
import type { KeyStore } from './key-store.ts';
import type { RequestMetadata } from './requests.ts';

/** What secondary authorization decides on (spec "Authorization"); health is exempt. */
export interface AuthorizationInput {
  operation: 'metadata' | 'encrypt' | 'decrypt';
  keyId: string;
  requestMetadata: RequestMetadata;
}

/** One URI prefix: its key store and who may call it. */
export interface Tenant {
  prefix: string;
  region: string;
  credentials: CredentialSet;
  keyStore: KeyStore;
  /** Per-prefix quota: throws XksError('ThrottlingException') when over it. */
  admit?: () => void;
  /** Secondary authorization: throws XksError('AccessDeniedException'), with the denying rule as logDetail. */
  authorize?: (input: AuthorizationInput) => void | Promise<void>;
}

/**
 * The tenants the app serves, looked up per request. A reload swaps the whole map in one
 * assignment, so a request sees either the old set of tenants or the new one.
 */
export class TenantDirectory {
  #byPrefix: ReadonlyMap<string, Tenant>;

  constructor(tenants: readonly Tenant[]) {
    this.#byPrefix = new Map(tenants.map((t) => [t.prefix, t]));
  }

  /** The tenant serving `prefix`, if any. */
  get(prefix: string): Tenant | undefined {
    return this.#byPrefix.get(prefix);
  }

  /** Every tenant. */
  all(): Tenant[] {
    return [...this.#byPrefix.values()];
  }

  /** Replaces the set of tenants atomically. */
  replace(tenants: readonly Tenant[]): void {
    this.#byPrefix = new Map(tenants.map((t) => [t.prefix, t]));
  }
}
