import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ProviderDeps } from '../../provider-deps.ts';
import type { KeystoreSource } from '../keystore-source.ts';
import type { SoftwareProviderConfig } from '../software-config.ts';
import { zeroContents, type KeystoreContents } from '../software-keystore-contents.ts';
import { resolveKeystoreSecret } from '../software-secret.ts';
import { PgChangeListener, type ListenerTiming } from './pg-change-listener.ts';
import { pgConnection } from './pg-connection.ts';
import { PgHeartbeat, type LoadedKeyStats } from './pg-heartbeat.ts';
import { PgKeystore } from './pg-keystore.ts';
import { changeChannel } from './pg-migrations.ts';
import type { PgStoreConfig } from './pg-store-config.ts';

/** Tuning knobs of the PostgreSQL source, mainly for tests. */
export interface PgSourceOptions {
  listener?: Partial<ListenerTiming>;
}

/**
 * The keys in PostgreSQL as a KeystoreSource for the served key set. A check costs
 * nothing while nothing changed: a LISTEN connection marks the set dirty when a trigger
 * NOTIFYs a change (and asks for a check at once through `watch`), after every reconnect
 * (notifications sent meanwhile are lost) and every `reloadIntervalSeconds` (a backstop).
 * A dirty check re-reads every key in one REPEATABLE READ snapshot. While the listener is
 * away a check throws, so the key set keeps serving what it holds and health says
 * DEGRADED; the refresher logs that once, and once when it clears.
 */
export class PgKeystoreSource implements KeystoreSource {
  readonly id: string;
  readonly location: string;
  readonly #config: PgStoreConfig;
  readonly #store: PgKeystore;
  readonly #listener: PgChangeListener;
  readonly #heartbeat: PgHeartbeat | undefined;
  #started: Promise<void> | undefined;
  #dirty = true;
  #lastFullLoad = 0;
  #stats: LoadedKeyStats | undefined;
  #onChange: (() => void) | undefined;
  #closed = false;

  constructor(provider: SoftwareProviderConfig, deps: ProviderDeps, logger: Logger, options: PgSourceOptions = {}) {
    this.#config = provider.store!.postgres;
    const conn = pgConnection(this.#config, deps.configDir, deps.env);
    this.id = `postgres:${this.#config.schema}`;
    this.location = conn.where;
    this.#store = new PgKeystore(conn, this.#config.schema, resolveKeystoreSecret(provider, deps.configDir, deps.env), this.#config.poolSize);
    this.#listener = new PgChangeListener(
      conn,
      changeChannel(this.#config.schema),
      {
        onChange: () => this.#markDirty(),
        onConnect: () => this.#markDirty(),
        onDisconnect: () => this.#onChange?.(),
      },
      undefined,
      options.listener,
    );
    // config check and doctor build providers too: they must not count as fleet members.
    this.#heartbeat = deps.checkOnly
      ? undefined
      : new PgHeartbeat(this.#store.pool, this.#config.schema, {
          everyMs: this.#config.heartbeatSeconds * 1000,
          liveSeconds: this.#config.liveSeconds,
          stats: () => this.#stats,
          log: logger,
        });
  }

  /** Asks the owner for a check now (a notification arrived, the connection came or went). */
  watch(onChange: () => void): void {
    this.#onChange = onChange;
  }

  /** Live proxies sharing this store, by heartbeat. */
  liveFleetSize(): number | undefined {
    return this.#heartbeat?.liveCount;
  }

  async load(): Promise<KeystoreContents | undefined> {
    // Listen before the first load: a change committed in between is then in the load or
    // in a notification, never lost.
    this.#started ??= this.#listener.start().then(() => this.#heartbeat?.start());
    await this.#started;
    const backstopDue = Date.now() - this.#lastFullLoad >= this.#config.reloadIntervalSeconds * 1000;
    if (!this.#listener.connected) {
      const since = this.#listener.downSince;
      throw new Error(
        `database ${this.location} unreachable${since !== undefined ? ` since ${new Date(since).toISOString()}` : ''}; changes are not seen until it returns`,
      );
    }
    if (!this.#dirty && !backstopDue) return undefined;
    const wasDirty = this.#dirty;
    this.#dirty = false;
    let contents: KeystoreContents;
    try {
      contents = await this.#store.loadAll();
    } catch (e) {
      this.#dirty = true;
      throw e;
    }
    this.#lastFullLoad = Date.now();
    const before = this.#stats?.digest;
    this.#stats = statsOf(contents);
    // A notification that came in while we loaded: ask for another check right after.
    if (this.#dirty) setTimeout(() => this.#onChange?.(), 10).unref();
    void this.#heartbeat?.beat();
    // A periodic re-read that found the same keys is not a change: keep serving the held set.
    if (!wasDirty && before === this.#stats.digest) {
      zeroContents(contents);
      return undefined;
    }
    return contents;
  }

  close(): void {
    this.#closed = true;
    void this.#listener.close();
    // The heartbeat deletes its row through the pool: close the pool after it.
    void (this.#heartbeat?.close() ?? Promise.resolve()).finally(() => this.#store.close());
  }

  #markDirty(): void {
    this.#dirty = true;
    if (!this.#closed) this.#onChange?.();
  }
}

/** Key count, version count and a digest of the key state, for the heartbeat row. */
export function statsOf(contents: KeystoreContents): LoadedKeyStats {
  const hash = createHash('sha256');
  let versions = 0;
  for (const id of [...contents.keys.keys()].sort()) {
    const k = contents.keys.get(id)!;
    versions += k.versions.length;
    hash.update(`${id}\0${k.enabled ? 1 : 0}\0${k.usages.join(',')}\0${k.versions.length}\n`);
  }
  return { keys: contents.keys.size, versions, digest: hash.digest('hex').slice(0, 16) };
}
