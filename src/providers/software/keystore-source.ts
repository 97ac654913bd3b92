import type { KeystoreContents } from './software-keystore-contents.ts';

/**
 * Where the software provider's keys come from: the keystore file today, a database
 * tomorrow. A source only loads; the refresher decides when, bounds how long it waits,
 * and publishes into the ServedKeySet that requests read.
 */
export interface KeystoreSource {
  /** Short name for health's ekmFleetDetails id (e.g. the file name). */
  readonly id: string;
  /** Where the keys live, for log lines (a path, a database name; never a secret). */
  readonly location: string;
  /**
   * The keys, when they changed since the last successful load (always on the first
   * call); undefined when they did not. Throws an Error whose message names the store and
   * says what is wrong (never a secret) when the keys cannot be loaded.
   */
  load(): Promise<KeystoreContents | undefined>;
  /** Releases cached secrets (a derived file key, a connection). */
  close(): void;
  /**
   * For a store that learns of changes by itself (PostgreSQL's LISTEN/NOTIFY): calls
   * `onChange` when a check should run now rather than at the next interval.
   */
  watch?(onChange: () => void): void;
  /** Live proxies sharing this store, when it counts them (heartbeats); feeds xksProxyFleetSize. */
  liveFleetSize?(): number | undefined;
}
