import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError, loadConfigFile, type LoadedConfig } from '../config/load-config.ts';

/** The result of one reload attempt. */
export type ReloadOutcome = { ok: true; summary: Record<string, unknown> } | { ok: false; problems: string[] };

/** How the reloader applies a config that loaded and validated. */
export interface ReloaderOptions {
  file: string;
  logger: Logger;
  /** Applies a valid config; throws (naming what failed) to reject it. */
  apply: (loaded: LoadedConfig) => Promise<Record<string, unknown>>;
  /** Told about each outcome (metrics). */
  onOutcome?: (ok: boolean) => void;
}

/**
 * Re-reads the config file on demand (SIGHUP, a file change): loads and validates it,
 * applies it, or rejects it with one error line and leaves the running config serving.
 * Reloads run one at a time; triggers that arrive during one are merged into one more
 * run, so a burst of file events costs at most two reloads.
 */
export class ConfigReloader {
  readonly #opts: ReloaderOptions;
  #running: Promise<ReloadOutcome> | undefined;
  #queued: Promise<ReloadOutcome> | undefined;
  #watching = false;

  constructor(opts: ReloaderOptions) {
    this.#opts = opts;
  }

  /** Runs a reload now, or after the one in progress. */
  reload(trigger: string): Promise<ReloadOutcome> {
    if (this.#running === undefined) {
      this.#running = this.#run(trigger).finally(() => {
        this.#running = undefined;
      });
      return this.#running;
    }
    this.#queued ??= this.#running.then(() => {
      this.#queued = undefined;
      return this.reload(trigger);
    });
    return this.#queued;
  }

  /** Reloads whenever the file's size, mtime or inode changes (polling survives editors that replace the file). */
  watch(intervalMs: number): void {
    if (this.#watching) return;
    this.#watching = true;
    watchFile(this.#opts.file, { interval: intervalMs, persistent: false }, (cur: Stats, prev: Stats) => {
      if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
      void this.reload('config file changed');
    });
  }

  /** Stops watching the file. */
  stop(): void {
    if (!this.#watching) return;
    this.#watching = false;
    unwatchFile(this.#opts.file);
  }

  async #run(trigger: string): Promise<ReloadOutcome> {
    const { logger } = this.#opts;
    logger.info({ trigger, config: this.#opts.file }, 'config reload started');
    let outcome: ReloadOutcome;
    try {
      const loaded = await loadConfigFile(this.#opts.file);
      const summary = await this.#opts.apply(loaded);
      outcome = { ok: true, summary };
      logger.info({ trigger, ...summary }, 'config reloaded');
    } catch (e) {
      const problems = e instanceof ConfigError ? e.problems : [e instanceof Error ? e.message : String(e)];
      outcome = { ok: false, problems };
      logger.error({ trigger, config: this.#opts.file, problems, effect: 'the previous config keeps serving' }, 'config reload rejected');
    }
    this.#opts.onOutcome?.(outcome.ok);
    return outcome;
  }
}
