import { InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../config/load-config.ts';

/**
 * Wraps a command's action so that failures print one clear line (or the list of config
 * problems) to stderr and exit 1, never a stack trace. XKS_PROXY_DEBUG=1 shows the stack.
 */
export function cliAction<A extends unknown[]>(action: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (e) {
      if (process.env.XKS_PROXY_DEBUG === '1') console.error(e);
      const message = e instanceof ConfigError ? e.message : `error: ${e instanceof Error ? e.message : String(e)}`;
      process.stderr.write(`${message}\n`);
      process.exitCode = 1;
    }
  };
}

/** Default config file: $XKS_PROXY_CONFIG, else ./xks-proxy.yaml. */
export function defaultConfigPath(): string {
  return process.env.XKS_PROXY_CONFIG ?? 'xks-proxy.yaml';
}

/**
 * The `-c, --config <file>` option of every command that reads the config. Its help names
 * the rule ($XKS_PROXY_CONFIG, else xks-proxy.yaml), not whichever value applied when the
 * help was printed.
 */
export function configOption(description = 'config file (YAML or JSON)'): Option {
  return new Option('-c, --config <file>', description).default(defaultConfigPath(), '$XKS_PROXY_CONFIG, else ./xks-proxy.yaml');
}

/**
 * Option parsers throw commander's InvalidArgumentError: commander then prints
 * "error: option '--port <port>' argument 'x' is invalid. ..." and exits 1. Any other error
 * thrown from a parser escapes commander as an uncaught exception with a stack trace.
 */

/** Parses a --port value. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`use a port number 0-65535, not "${value}"`);
  return port;
}

/**
 * The external key id of a `create` command. Every key command names the key the same way,
 * as the positional <keyId> (the id KMS uses); `hsm` and `kmip` still accept their older
 * option spelling (--label, --name) so existing scripts keep working.
 */
export function requireKeyId(positional: string | undefined, legacy: string | undefined, legacyFlag: string): string {
  if (positional !== undefined && legacy !== undefined && positional !== legacy) {
    throw new Error(`the key id is given twice ("${positional}" and ${legacyFlag} "${legacy}"): give it once, as <keyId>`);
  }
  const keyId = positional ?? legacy;
  if (keyId === undefined) throw new Error('missing <keyId>: the external key id KMS will use');
  return keyId;
}
