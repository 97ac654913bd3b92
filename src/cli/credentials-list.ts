import { Command, InvalidArgumentError } from 'commander';
import { loadConfigFile } from '../config/load-config.ts';
import { isSecretRef, resolveSecretRef } from '../config-values/secret-ref.ts';
import type { ProxyConfig } from '../config/schema.ts';
import { credentialAgeDays } from '../ops/credential-age.ts';
import { cliAction, configOption } from './cli-action.ts';
import { tableLines } from './text-table.ts';

/** One credential as `credentials list` shows it: never the secret, only where it comes from. */
export interface CredentialListing {
  prefix: string;
  accessKeyId: string;
  createdAt: string | undefined;
  /** Whole days since createdAt; undefined without a (valid) createdAt. */
  ageDays: number | undefined;
  /** `env:NAME`, `file:PATH`, or `inline`. */
  secretSource: string;
  /** "ok", or why the secret cannot be read. */
  secretStatus: string;
}

/** Lists every configured credential with its age, resolving (but never printing) secrets. */
export function listCredentials(config: ProxyConfig, env: NodeJS.ProcessEnv, configDir: string, now = new Date()): CredentialListing[] {
  return config.keyStores.flatMap((ks) =>
    ks.credentials.map((c) => {
      let secretStatus = 'ok';
      try {
        resolveSecretRef(c.secretAccessKey, 'secret', env, configDir);
      } catch (e) {
        secretStatus = (e as Error).message.replace(/^secret: /, '');
      }
      const age = credentialAgeDays(c.createdAt, now);
      return {
        prefix: ks.prefix,
        accessKeyId: c.accessKeyId,
        createdAt: c.createdAt,
        ageDays: age === undefined ? undefined : Math.floor(age),
        secretSource: isSecretRef(c.secretAccessKey) ? c.secretAccessKey : 'inline',
        secretStatus,
      };
    }),
  );
}

function parseDays(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`use a whole number of days (0 or more), not "${value}"`);
  return n;
}

/** `xks-proxy credentials list`: every key store's credentials with their age. */
export function credentialsListCommand(): Command {
  return new Command('list')
    .description('list the SigV4 credentials of every key store with their age (from createdAt); secrets are never shown')
    .addOption(configOption())
    .option('--prefix <prefix>', 'only this key store')
    .option('--max-age-days <n>', 'exit 1 if a credential is older than this (or has no createdAt)', parseDays)
    .option('--json', 'print JSON')
    .action(
      cliAction(async (opts: { config: string; prefix?: string; maxAgeDays?: number; json?: boolean }) => {
        const { config, configDir } = await loadConfigFile(opts.config);
        const prefix = opts.prefix?.replace(/^\/+|\/+$/g, '');
        const rows = listCredentials(config, process.env, configDir).filter((r) => prefix === undefined || r.prefix === prefix);
        if (prefix !== undefined && rows.length === 0) throw new Error(`no key store with prefix "${prefix}"`);
        const tooOld = rows.filter((r) => opts.maxAgeDays !== undefined && (r.ageDays === undefined || r.ageDays > opts.maxAgeDays));
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        } else {
          const table = [['PREFIX', 'ACCESS KEY ID', 'CREATED', 'AGE', 'SECRET', 'STATUS']];
          for (const r of rows) {
            const age = r.ageDays === undefined ? '?' : `${r.ageDays}d`;
            table.push([r.prefix === '' ? '""' : r.prefix, r.accessKeyId, r.createdAt ?? '-', age, r.secretSource, r.secretStatus]);
          }
          // No trailing white space, even when the secret status (an error message) ends in some.
          for (const line of tableLines(table)) process.stdout.write(`${line.trimEnd()}\n`);
          for (const r of tooOld) {
            process.stdout.write(
              `warning: ${r.accessKeyId} (${r.prefix}) ${r.ageDays === undefined ? 'has no createdAt' : `is ${r.ageDays} days old`}; rotate it\n`,
            );
          }
        }
        if (rows.some((r) => r.secretStatus !== 'ok') || tooOld.length > 0) process.exitCode = 1;
      }),
    );
}
