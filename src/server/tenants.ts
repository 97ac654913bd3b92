import type { CredentialSet } from '../auth/credential-set.ts';
import type { KeyStore } from '../xks/key-store.ts';

/** One URI prefix: its key store and who may call it. */
export interface Tenant {
  prefix: string;
  region: string;
  credentials: CredentialSet;
  keyStore: KeyStore;
}

/**
 * The tenants the app serves, looked up per request. A reload swaps the whole map in one
 * assignment, so a request sees either the old set of tenants or the new one.
 */
export class TenantDirectory {
  private byPrefix: ReadonlyMap<string, Tenant>;

  constructor(tenants: readonly Tenant[]) {
    this.byPrefix = new Map(tenants.map((t) => [t.prefix, t]));
  }

  /** The tenant serving `prefix`, if any. */
  get(prefix: string): Tenant | undefined {
    return this.byPrefix.get(prefix);
  }

  /** Every tenant. */
  all(): Tenant[] {
    return [...this.byPrefix.values()];
  }

  /** Replaces the set of tenants atomically. */
  replace(tenants: readonly Tenant[]): void {
    this.byPrefix = new Map(tenants.map((t) => [t.prefix, t]));
  }
}
