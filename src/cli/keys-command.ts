import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadConfigFile } from '../config/load-config.ts';
import { isSecretRef, resolveSecretRef } from '../config-values/secret-ref.ts';
import type { KeyUsage } from '../xks/key-provider-port.ts';
import {
  exportToFile,
  openKeystoreBackend,
  readKeystoreFile,
  zeroContents,
  type KeystoreBackend,
  type KeystoreLocation,
} from '../providers/software/keystore-backend.ts';
import { keystoreLocationOf } from '../providers/software/keystore-location.ts';
import { pgConnection } from '../providers/software/pg/pg-connection.ts';
import { pgStoreConfigSchema } from '../providers/software/pg/pg-store-config.ts';
import type { KeystoreSecret } from '../providers/software/software-keystore-kek.ts';
import type { KeySummary } from '../providers/software/software-keystore.ts';
import { cliAction, defaultConfigPath } from './cli-action.ts';
import { formatTable } from './text-table.ts';

/** Flags that say which keystore a `keys` command works on. */
interface LocateOptions {
  keystore?: string;
  postgres?: string;
  schema?: string;
  passphrase?: string;
  kek?: string;
  config?: string;
  prefix?: string;
}

/**
 * Reads `--<name>-passphrase REF` / `--<name>-kek REF` style flags: exactly one, and only
 * as a reference (a secret typed on the command line ends up in shell history and ps).
 */
export function secretFromFlags(passphrase: string | undefined, kek: string | undefined, flags: [string, string], env: NodeJS.ProcessEnv): KeystoreSecret {
  if ((passphrase === undefined) === (kek === undefined)) throw new Error(`give exactly one of ${flags[0]} REF or ${flags[1]} REF`);
  const ref = (passphrase ?? kek)!;
  const flag = passphrase !== undefined ? flags[0] : flags[1];
  if (!isSecretRef(ref)) throw new Error(`${flag} takes a secret reference (env:NAME or file:PATH), not the secret itself`);
  const value = resolveSecretRef(ref, flag, env);
  return passphrase !== undefined ? { passphrase: value } : { kek: value };
}

/**
 * Finds the keystore a command targets: `--keystore FILE` or `--postgres URL_REF` with
 * `--passphrase REF` or `--kek REF`, or the software provider of a key store in the proxy
 * config (a file or the fleet's PostgreSQL store, whichever it names).
 */
export async function locateKeystore(opts: LocateOptions, env: NodeJS.ProcessEnv = process.env): Promise<KeystoreLocation> {
  if (opts.keystore !== undefined || opts.postgres !== undefined) {
    if (opts.keystore !== undefined && opts.postgres !== undefined) throw new Error('use either --keystore or --postgres, not both');
    const direct = opts.keystore !== undefined ? '--keystore' : '--postgres';
    if (opts.config !== undefined || opts.prefix !== undefined) throw new Error(`use either ${direct} or --config/--prefix, not both`);
    if ((opts.passphrase === undefined) === (opts.kek === undefined)) throw new Error(`${direct} needs exactly one of --passphrase REF or --kek REF`);
    const secret = secretFromFlags(opts.passphrase, opts.kek, ['--passphrase', '--kek'], env);
    if (opts.keystore !== undefined) return { kind: 'file', path: resolve(opts.keystore), secret };
    if (!isSecretRef(opts.postgres!)) throw new Error('--postgres takes a secret reference to the URL (env:NAME or file:PATH): the URL carries the password');
    const parsed = pgStoreConfigSchema.safeParse({ url: opts.postgres, ...(opts.schema !== undefined ? { schema: opts.schema } : {}) });
    if (!parsed.success) throw new Error(`--schema: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return { kind: 'postgres', connection: pgConnection(parsed.data, process.cwd(), env, '--postgres'), schema: parsed.data.schema, secret };
  }
  if (opts.passphrase !== undefined || opts.kek !== undefined)
    throw new Error('--passphrase and --kek go with --keystore or --postgres; with --config the secret comes from the config');
  if (opts.schema !== undefined) throw new Error('--schema goes with --postgres; with --config the schema comes from the config');
  const { config, file, configDir } = await loadConfigFile(opts.config ?? defaultConfigPath());
  const software = config.keyStores.filter((ks) => ks.provider.type === 'software');
  let chosen;
  if (opts.prefix !== undefined) {
    const prefix = opts.prefix.replace(/^\/+|\/+$/g, '');
    chosen = config.keyStores.find((ks) => ks.prefix === prefix);
    if (!chosen) throw new Error(`config ${file} has no key store with prefix "${prefix}"`);
    if (chosen.provider.type !== 'software')
      throw new Error(`key store "${prefix}" in ${file} uses the ${chosen.provider.type} provider, not the software keystore`);
  } else if (software.length === 1) {
    chosen = software[0]!;
  } else if (software.length === 0) {
    throw new Error(`config ${file} has no key store with a software provider`);
  } else {
    throw new Error(
      `config ${file} has ${software.length} software key stores (prefixes: ${software.map((s) => `"${s.prefix}"`).join(', ')}); choose one with --prefix`,
    );
  }
  const provider = chosen.provider;
  if (provider.type !== 'software') throw new Error('unreachable: not a software provider');
  return keystoreLocationOf(provider, configDir, env, `keyStores[prefix="${chosen.prefix}"].provider`);
}

/** Runs `body` on the located keystore's backend and closes it. */
async function withBackend<T>(opts: LocateOptions, body: (backend: KeystoreBackend) => Promise<T>): Promise<T> {
  const backend = await openKeystoreBackend(await locateKeystore(opts));
  try {
    return await body(backend);
  } finally {
    await backend.close();
  }
}

/** Parses `--usage`: encrypt,decrypt | both | encrypt | decrypt | none. */
export function parseUsage(value: string): KeyUsage[] {
  const parts = value.split(',').map((p) => p.trim().toLowerCase());
  const bad = () => new Error(`invalid --usage "${value}": use encrypt,decrypt (or both) | encrypt | decrypt | none`);
  if (parts.length === 1 && parts[0] === 'none') return [];
  const usages = new Set<KeyUsage>();
  for (const p of parts) {
    if (p === 'encrypt') usages.add('ENCRYPT');
    else if (p === 'decrypt') usages.add('DECRYPT');
    else if (p === 'both') {
      usages.add('ENCRYPT');
      usages.add('DECRYPT');
    } else throw bad();
  }
  return (['ENCRYPT', 'DECRYPT'] as const).filter((u) => usages.has(u));
}

/** Usage list as shown by `keys list`. */
function showUsage(usages: readonly KeyUsage[]): string {
  return usages.length === 0 ? 'none' : usages.map((u) => u.toLowerCase()).join(',');
}

/** Renders key summaries as an aligned text table. */
export function formatKeyTable(keys: readonly KeySummary[]): string {
  if (keys.length === 0) return '(no keys)\n';
  return formatTable([
    ['KEY ID', 'USAGE', 'STATE', 'VERSION', 'CREATED'],
    ...keys.map((k) => [k.keyId, showUsage(k.usages), k.enabled ? 'enabled' : 'disabled', String(k.currentVersion), k.createdAt]),
  ]);
}

function describeKey(k: KeySummary): string {
  return `usage ${showUsage(k.usages)}, ${k.enabled ? 'enabled' : 'disabled'}, current version ${k.currentVersion}`;
}

/** Adds the flags that locate the keystore to a subcommand. */
function withKeystoreOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--keystore <file>', 'keystore file to use directly (instead of --config)'))
    .addOption(new Option('--postgres <ref>', 'PostgreSQL store to use directly: its URL as a secret reference, env:NAME or file:PATH'))
    .addOption(new Option('--schema <name>', 'with --postgres: schema of the keystore (default xks_proxy)'))
    .addOption(new Option('--passphrase <ref>', 'with --keystore/--postgres: passphrase as a secret reference, env:NAME or file:PATH'))
    .addOption(new Option('--kek <ref>', 'with --keystore/--postgres: raw 32-byte KEK (base64 or hex) as a secret reference, env:NAME or file:PATH'))
    .addOption(new Option('-c, --config <file>', 'proxy config file whose software key store to use (default: $XKS_PROXY_CONFIG or ./xks-proxy.yaml)'))
    .addOption(new Option('--prefix <prefix>', 'with --config: URI prefix of the key store (needed when several use the software provider)'));
}

function out(text: string): void {
  process.stdout.write(text);
}

/** `xks-proxy keys`: manage the keys of a software keystore (file or PostgreSQL). */
export function keysCommand(): Command {
  const keys = new Command('keys').description(
    'manage keys in a software keystore, a file or a PostgreSQL store (create, list, rotate, disable, enable, import, export); running proxies pick up changes within a second',
  );
  for (const sub of [
    initCommand(),
    createCommand(),
    listCommand(),
    rotateCommand(),
    enabledCommand('disable', false),
    enabledCommand('enable', true),
    importCommand(),
    exportCommand(),
  ]) {
    keys.addCommand(sub);
  }
  return keys;
}

/** `keys init`: a new keystore file, or the PostgreSQL schema and keystore. */
function initCommand(): Command {
  return withKeystoreOptions(new Command('init'))
    .description(
      'file: create an empty keystore file (mode 0600) with its health-check key, refusing to overwrite one; PostgreSQL: create or migrate the schema (numbered migrations) and the keystore, idempotent',
    )
    .action(
      cliAction(async (opts: LocateOptions) => {
        out(`${await withBackend(opts, (b) => b.init())}\n`);
      }),
    );
}

/** `keys create KEY_ID`: a new AES-256 key. */
function createCommand(): Command {
  return withKeystoreOptions(new Command('create'))
    .description('create an AES-256 key (version 1) with the given usage')
    .argument('<keyId>', 'external key id: 1-128 characters of A-Za-z0-9._-')
    .addOption(new Option('--usage <usage>', 'what the key may do: encrypt,decrypt | encrypt | decrypt | none').default('encrypt,decrypt'))
    .option('--disabled', 'create the key disabled (requests get InvalidStateException until enabled)')
    .action(
      cliAction(async (keyId: string, opts: LocateOptions & { usage: string; disabled?: boolean }) => {
        const usages = parseUsage(opts.usage);
        await withBackend(opts, async (b) => {
          const key = await b.createKey(keyId, { usages, enabled: !opts.disabled });
          out(`created key ${key.keyId} (${describeKey(key)}) in ${b.where}\n`);
        });
      }),
    );
}

/** `keys list`: the keys as a table or JSON. */
function listCommand(): Command {
  return withKeystoreOptions(new Command('list'))
    .description('list the keys with usage, state and current version (never key material)')
    .option('--json', 'print JSON instead of a table')
    .action(
      cliAction(async (opts: LocateOptions & { json?: boolean }) => {
        const list = await withBackend(opts, (b) => b.listKeys());
        out(opts.json ? JSON.stringify(list, null, 2) + '\n' : formatKeyTable(list));
      }),
    );
}

/** `keys rotate KEY_ID`: a new version that encrypts from now on. */
function rotateCommand(): Command {
  return withKeystoreOptions(new Command('rotate'))
    .description('add a new version to a key: new encryptions use it, older versions still decrypt')
    .argument('<keyId>', 'key to rotate')
    .action(
      cliAction(async (keyId: string, opts: LocateOptions) => {
        const key = await withBackend(opts, (b) => b.rotateKey(keyId));
        out(`rotated key ${key.keyId}: version ${key.currentVersion} now encrypts; versions 1-${key.currentVersion} decrypt\n`);
      }),
    );
}

/** `keys disable KEY_ID` / `keys enable KEY_ID`. */
function enabledCommand(name: 'disable' | 'enable', enabled: boolean): Command {
  return withKeystoreOptions(new Command(name))
    .description(enabled ? 'enable a key again' : 'disable a key: the proxy answers InvalidStateException for it until it is enabled (material is kept)')
    .argument('<keyId>', `key to ${name}`)
    .action(
      cliAction(async (keyId: string, opts: LocateOptions) => {
        const key = await withBackend(opts, (b) => b.setKeyEnabled(keyId, enabled));
        out(`${enabled ? 'enabled' : 'disabled'} key ${key.keyId} (${describeKey(key)})\n`);
      }),
    );
}

/** `keys import --from FILE`: every key of another keystore file, ids already present skipped. */
function importCommand(): Command {
  return withKeystoreOptions(new Command('import'))
    .description('copy every key (all versions, same material) from a keystore file into this keystore; ids that exist already are skipped')
    .requiredOption('--from <file>', 'keystore file to import from (e.g. the old single-proxy keystore, or a `keys export` backup)')
    .option('--from-passphrase <ref>', 'passphrase of --from, as a secret reference env:NAME or file:PATH')
    .option('--from-kek <ref>', 'raw KEK of --from, as a secret reference env:NAME or file:PATH')
    .action(
      cliAction(async (opts: LocateOptions & { from: string; fromPassphrase?: string; fromKek?: string }) => {
        const secret = secretFromFlags(opts.fromPassphrase, opts.fromKek, ['--from-passphrase', '--from-kek'], process.env);
        const source = await readKeystoreFile(resolve(opts.from), secret);
        try {
          await withBackend(opts, async (b) => {
            const r = await b.importKeys([...source.keys.values()]);
            out(`imported ${r.imported.length} key(s) into ${b.where}${r.imported.length > 0 ? `: ${r.imported.join(', ')}` : ''}\n`);
            if (r.skipped.length > 0) out(`skipped ${r.skipped.length} key(s) that already exist: ${r.skipped.join(', ')}\n`);
          });
        } finally {
          zeroContents(source);
        }
      }),
    );
}

/** `keys export --out FILE`: an encrypted backup in a new keystore file. */
function exportCommand(): Command {
  return withKeystoreOptions(new Command('export'))
    .description('write every key into a NEW keystore file sealed under its own passphrase or KEK: an encrypted backup, restorable with `keys import`')
    .requiredOption('--out <file>', 'keystore file to create (refuses to overwrite)')
    .option('--out-passphrase <ref>', 'passphrase for the backup, as a secret reference env:NAME or file:PATH')
    .option('--out-kek <ref>', 'raw KEK for the backup, as a secret reference env:NAME or file:PATH')
    .action(
      cliAction(async (opts: LocateOptions & { out: string; outPassphrase?: string; outKek?: string }) => {
        const secret = secretFromFlags(opts.outPassphrase, opts.outKek, ['--out-passphrase', '--out-kek'], process.env);
        await withBackend(opts, async (b) => {
          const contents = await b.readContents();
          try {
            const n = await exportToFile(contents, resolve(opts.out), secret);
            out(`exported ${n} key(s) from ${b.where} to ${resolve(opts.out)} (encrypted; restore with keys import --from)\n`);
          } finally {
            zeroContents(contents);
          }
        });
      }),
    );
}
