import type { Logger } from 'pino';

/** What every provider factory receives besides its own config. */
export interface ProviderDeps {
  logger: Logger;
  /** Directory of the config file; relative paths in provider config resolve against it. */
  configDir: string;
  /** Environment for secret references (env:NAME). */
  env: NodeJS.ProcessEnv;
}
