import { isAbsolute, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadConfigFile } from '../config/load-config.ts';
import { isSecretRef } from '../config-values/secret-ref.ts';
import { pkcs11AdminTargets, withPkcs11AdminSession, type Pkcs11NamedTarget } from '../providers/pkcs11/pkcs11-admin-session.ts';
import { pkcs11ProviderConfigSchema } from '../providers/pkcs11/pkcs11-config.ts';
import { generatePkcs11AesKey, listPkcs11SecretKeys, parsePkcs11KeyUsage, type Pkcs11KeyListing } from '../providers/pkcs11/pkcs11-key-admin.ts';
import { cliAction, requireKeyId, defaultConfigPath } from './cli-action.ts';
import { formatTable } from './text-table.ts';

/** Default CKA_LABEL of the health canary (config healthKeyLabel). */
const DEFAULT_CANARY_LABEL = 'xks-health-canary';

/** Flags that say which token(s) an `hsm` command works on. */
interface HsmTargetOptions {
  config?: string;
  prefix?: string;
  token?: string;
  module?: string;
  tokenLabel?: string;
  tokenSerial?: string;
  pin?: string;
  libraryParameters?: string;
  login?: 'user' | 'none';
}

/** The tokens a command targets, and the canary label that goes with them. */
interface HsmTargets {
  tokens: Pkcs11NamedTarget[];
  canaryLabel: string;
}

/**
 * Finds the token(s) a command targets: direct flags (`--module`, `--token-label` or
 * `--token-serial`, `--pin REF`), or the pkcs11 provider of a key store in the proxy
 * config (`--config`, `--prefix`), optionally narrowed to one token with `--token NAME`.
 */
async function locateTokens(opts: HsmTargetOptions, env: NodeJS.ProcessEnv = process.env): Promise<HsmTargets> {
  const direct =
    opts.module !== undefined ||
    opts.tokenLabel !== undefined ||
    opts.tokenSerial !== undefined ||
    opts.pin !== undefined ||
    opts.libraryParameters !== undefined ||
    opts.login !== undefined;
  if (direct) {
    if (opts.config !== undefined || opts.prefix !== undefined || opts.token !== undefined) {
      throw new Error('use either --module/--token-label/--token-serial/--pin or --config/--prefix/--token, not both');
    }
    if (opts.module === undefined) throw new Error('--module <path> is required with --token-label or --token-serial');
    if ((opts.tokenLabel === undefined) === (opts.tokenSerial === undefined)) throw new Error('give exactly one of --token-label or --token-serial');
    const noLogin = opts.login === 'none';
    if (noLogin && opts.pin !== undefined) throw new Error('--login none takes no --pin');
    if (!noLogin && opts.pin === undefined) throw new Error('--pin <ref> is required (env:NAME or file:PATH), or --login none for a token without login');
    // Only references: a PIN typed on the command line ends up in shell history and ps.
    if (opts.pin !== undefined && !isSecretRef(opts.pin)) throw new Error('--pin takes a secret reference (env:NAME or file:PATH), not the PIN itself');
    const name = opts.tokenLabel ?? `serial-${opts.tokenSerial}`;
    const modulePath = isAbsolute(opts.module) ? opts.module : resolve(opts.module);
    return {
      tokens: [
        {
          name,
          target: {
            modulePath,
            libraryParameters: opts.libraryParameters,
            selector: { label: opts.tokenLabel, serial: opts.tokenSerial },
            pin: opts.pin === undefined ? undefined : { tokenName: name, pinRef: opts.pin, field: '--pin', configDir: process.cwd(), env },
          },
        },
      ],
      canaryLabel: DEFAULT_CANARY_LABEL,
    };
  }
  const { config, file, configDir } = await loadConfigFile(opts.config ?? defaultConfigPath());
  // Compared as plain strings so this file does not depend on the provider union's members.
  const typeOf = (ks: (typeof config.keyStores)[number]): string => (ks.provider as { type: string }).type;
  const hsmStores = config.keyStores.filter((ks) => typeOf(ks) === 'pkcs11');
  let chosen;
  if (opts.prefix !== undefined) {
    const prefix = opts.prefix.replace(/^\/+|\/+$/g, '');
    chosen = config.keyStores.find((ks) => ks.prefix === prefix);
    if (chosen === undefined) throw new Error(`config ${file} has no key store with prefix "${prefix}"`);
  } else if (hsmStores.length === 1) {
    chosen = hsmStores[0];
  } else if (hsmStores.length === 0) {
    throw new Error(`config ${file} has no key store with a pkcs11 provider`);
  } else {
    throw new Error(
      `config ${file} has ${hsmStores.length} pkcs11 key stores (prefixes: ${hsmStores.map((s) => `"${s.prefix}"`).join(', ')}); choose one with --prefix`,
    );
  }
  if (chosen === undefined || typeOf(chosen) !== 'pkcs11') {
    throw new Error(`key store "${chosen?.prefix}" in ${file} uses the ${chosen === undefined ? '?' : typeOf(chosen)} provider, not pkcs11`);
  }
  const provider = pkcs11ProviderConfigSchema.parse(chosen.provider);
  let tokens = pkcs11AdminTargets(provider, configDir, env, `keyStores[prefix="${chosen.prefix}"].provider`);
  if (opts.token !== undefined) {
    tokens = tokens.filter((t) => t.name === opts.token);
    if (tokens.length === 0) throw new Error(`key store "${chosen.prefix}" has no token named "${opts.token}"`);
  }
  return { tokens, canaryLabel: provider.healthKeyLabel };
}

/** Refuses to create a key in several replicas at once: each would get different key material. */
function singleToken(t: HsmTargets): Pkcs11NamedTarget {
  if (t.tokens.length !== 1) {
    throw new Error(
      `the key store lists ${t.tokens.length} tokens (${t.tokens.map((x) => x.name).join(', ')}); a key generated in each would differ. ` +
        "Create it in one token with --token NAME and copy it to the replicas with your HSM's cloning or HA sync",
    );
  }
  return t.tokens[0] as Pkcs11NamedTarget;
}

function usageText(k: Pkcs11KeyListing): string {
  const u = [k.encrypt ? 'encrypt' : '', k.decrypt ? 'decrypt' : ''].filter(Boolean).join(',');
  return u === '' ? 'none' : u;
}

/** Renders a token's secret keys as an aligned table. */
export function formatHsmKeyTable(keys: readonly Pkcs11KeyListing[]): string {
  if (keys.length === 0) return '(no secret keys)\n';
  return formatTable([
    ['LABEL', 'TYPE', 'USAGE', 'SENSITIVE', 'EXTRACTABLE', 'XKS'],
    ...keys.map((k) => [
      k.label === '' ? '(no label)' : k.label,
      `${k.type}${k.bits === undefined ? '' : `-${k.bits}`}`,
      usageText(k),
      k.sensitive ? 'yes' : 'no',
      k.extractable ? 'yes' : 'no',
      k.problem === undefined ? 'usable' : `unusable: ${k.problem}`,
    ]),
  ]);
}

function withTargetOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-c, --config <file>', 'proxy config file whose pkcs11 key store to use (default: $XKS_PROXY_CONFIG or ./xks-proxy.yaml)'))
    .addOption(new Option('--prefix <prefix>', 'with --config: URI prefix of the key store (needed when several use pkcs11)'))
    .addOption(new Option('--token <name>', 'with --config: only this token of the key store (its name, label or serial-N)'))
    .addOption(new Option('--module <path>', 'PKCS#11 library to use directly (instead of --config)'))
    .addOption(new Option('--token-label <label>', 'with --module: token label'))
    .addOption(new Option('--token-serial <serial>', 'with --module: token serial number'))
    .addOption(new Option('--pin <ref>', 'with --module: user PIN as a secret reference, env:NAME or file:PATH'))
    .addOption(new Option('--login <mode>', 'with --module: none for a token used without login (keys made public objects)').choices(['user', 'none']))
    .addOption(new Option('--library-parameters <params>', 'with --module: C_Initialize library parameters (NSS: "configdir=\'sql:DIR\' ...")'));
}

function out(text: string): void {
  process.stdout.write(text);
}

async function createKey(opts: HsmTargetOptions, label: string, usage: string): Promise<void> {
  const spec = parsePkcs11KeyUsage(usage);
  const token = singleToken(await locateTokens(opts));
  // Without login a private object can be neither created nor found: such keys are public objects.
  const isPrivate = token.target.pin !== undefined;
  await withPkcs11AdminSession(token.target, (api, session) => generatePkcs11AesKey(api, session, label, spec, isPrivate));
  out(`created AES-256 key "${label}" (usage ${usage}, sensitive, not extractable${isPrivate ? '' : ', public object: no login'}) in token ${token.name}\n`);
}

/** `xks-proxy hsm`: manage XKS keys inside a PKCS#11 HSM token. */
export function hsmCommand(): Command {
  const hsm = new Command('hsm').description('manage XKS keys inside a PKCS#11 HSM token (the pkcs11 provider)');
  const keys = new Command('keys').description('create and list AES-256 keys in the token; key material never leaves it');
  hsm.addCommand(keys);

  keys.addCommand(
    withTargetOptions(new Command('create'))
      .description('generate an AES-256 key inside the token (token object, private unless login is none, sensitive, never extractable)')
      .argument('[keyId]', 'external key id KMS will use; the key gets it as CKA_LABEL (unless mapped with keyLabels)')
      .addOption(new Option('--label <label>', 'the same as <keyId> (the older spelling)').hideHelp())
      .addOption(new Option('--usage <usage>', 'what the key may do: encrypt,decrypt | encrypt | decrypt | none').default('encrypt,decrypt'))
      .action(
        cliAction(async (keyId: string | undefined, opts: HsmTargetOptions & { label?: string; usage: string }) =>
          createKey(opts, requireKeyId(keyId, opts.label, '--label'), opts.usage),
        ),
      ),
  );

  keys.addCommand(
    withTargetOptions(new Command('create-canary'))
      .description('generate the health-check key (encrypt+decrypt) the deep health check uses; label from the config (healthKeyLabel)')
      .option('--label <label>', `canary label (default: the config's healthKeyLabel, else ${DEFAULT_CANARY_LABEL})`)
      .action(
        cliAction(async (opts: HsmTargetOptions & { label?: string }) => {
          const label = opts.label ?? (await locateTokens(opts)).canaryLabel;
          await createKey(opts, label, 'encrypt,decrypt');
        }),
      ),
  );

  keys.addCommand(
    withTargetOptions(new Command('list'))
      .description('list the secret keys of each token with type, usage and whether XKS can use them (never key material)')
      .option('--json', 'print JSON instead of a table')
      .action(
        cliAction(async (opts: HsmTargetOptions & { json?: boolean }) => {
          const { tokens } = await locateTokens(opts);
          // Null prototype: token names come from the config (a label may be `__proto__`).
          const result = Object.create(null) as Record<string, Pkcs11KeyListing[]>;
          for (const t of tokens) result[t.name] = await withPkcs11AdminSession(t.target, (api, session) => listPkcs11SecretKeys(api, session));
          if (opts.json) {
            out(`${JSON.stringify(tokens.length === 1 ? Object.values(result)[0] : result, null, 2)}\n`);
            return;
          }
          for (const [name, list] of Object.entries(result)) out(`${tokens.length > 1 ? `token ${name}:\n` : ''}${formatHsmKeyTable(list)}`);
        }),
      ),
  );
  return hsm;
}
