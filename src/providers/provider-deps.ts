import type { Logger } from 'pino';

/** What every provider factory receives besides its own config. */
export interface ProviderDeps {
  logger: Logger;
  /** Directory of the config file; relative paths in provider config resolve against it. */
  configDir: string;
  /** Environment for secret references (env:NAME). */
  env: NodeJS.ProcessEnv;
  /**
   * Built by `config check` or `doctor`, not to serve: no fleet membership (the software
   * keystore on PostgreSQL writes no heartbeat, so a check never counts as a proxy).
   */
  checkOnly?: boolean;
}
