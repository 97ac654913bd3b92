import type { LoadedConfig } from '../config/load-config.ts';
import { ACCESS_KEY_ID_PATTERN, type CredentialConfig, type KeyStoreConfig } from '../config/schema.ts';
import { isSecretRef, resolveSecretRef } from '../config-values/secret-ref.ts';
import { errorText, fail, ok, warn, type CheckResult } from './check-result.ts';

/** Spec format of the secret access key: 43-64 characters of A-Za-z0-9+/= */
const SECRET_PATTERN = /^[A-Za-z0-9+/=]{43,64}$/;

/**
 * The AWS XKS test client's published defaults (our demo uses them too): anyone can sign
 * requests with them, so they must never guard real keys.
 */
const PUBLIC_ACCESS_KEY_IDS = new Set(['BETWEEN2TENAND3TENCHARACTERS']);
const PUBLIC_SECRETS = new Set(['PleaseReplaceThisWithSomeSecretOfLength43To64']);

/** Default credential age (days) after which the doctor suggests rotation. */
export const DEFAULT_MAX_CREDENTIAL_AGE_DAYS = 90;

/** Settings of the credential checks. */
export interface CredentialCheckOptions {
  env: NodeJS.ProcessEnv;
  now?: Date;
  maxAgeDays?: number;
}

/**
 * Checks every SigV4 credential as the proxy will load it: the secret reference resolves,
 * both parts have the spec's format, it is not a public test credential, each key store has
 * a second credential for rotation, and no credential is older than the allowed age.
 */
export function checkCredentials(loaded: LoadedConfig, opts: CredentialCheckOptions): CheckResult[] {
  const results: CheckResult[] = [];
  for (const ks of loaded.config.keyStores) {
    ks.credentials.forEach((cred) => results.push(...checkOne(ks, cred, opts, loaded.configDir)));
    results.push(checkRotation(ks));
  }
  return results;
}

function storeName(ks: KeyStoreConfig): string {
  return `keyStores[prefix="${ks.prefix}"]`;
}

function checkOne(ks: KeyStoreConfig, cred: CredentialConfig, opts: CredentialCheckOptions, configDir: string): CheckResult[] {
  const subject = `${storeName(ks)} credential ${cred.accessKeyId}`;
  const state = 'INVALID_CREDENTIALS';
  if (!ACCESS_KEY_ID_PATTERN.test(cred.accessKeyId)) {
    return [
      fail({
        group: 'credentials',
        id: 'credentials.format',
        subject,
        message: 'the access key id is not 20-30 characters of A-Z and 2-7',
        fix: 'generate a new credential with `xks-proxy credentials generate`',
        kmsState: state,
      }),
    ];
  }
  let secret: string;
  try {
    // Resolved exactly as the proxy resolves it at start (build-tenants.ts).
    secret = resolveSecretRef(cred.secretAccessKey, `${storeName(ks)}.credentials[${cred.accessKeyId}].secretAccessKey`, opts.env, configDir);
  } catch (e) {
    return [
      fail({
        group: 'credentials',
        id: 'credentials.format',
        subject,
        message: errorText(e),
        fix: 'set the environment variable or create the file the secret reference names, readable by the proxy',
        kmsState: state,
      }),
    ];
  }
  const results: CheckResult[] = [];
  if (!SECRET_PATTERN.test(secret)) {
    // Say what is wrong without showing any of the secret.
    const why = secret.length < 43 || secret.length > 64 ? `it has ${secret.length} characters` : 'it contains characters other than A-Z, a-z, 0-9, +, / and =';
    results.push(
      fail({
        group: 'credentials',
        id: 'credentials.format',
        subject,
        message: `the secret access key does not have the spec's format (43-64 characters of A-Za-z0-9+/=): ${why}; KMS will not accept it`,
        fix: 'generate a new credential with `xks-proxy credentials generate` and enter the same values in KMS',
        kmsState: state,
      }),
    );
  } else if (PUBLIC_ACCESS_KEY_IDS.has(cred.accessKeyId) || PUBLIC_SECRETS.has(secret)) {
    results.push(
      warn({
        group: 'credentials',
        id: 'credentials.format',
        subject,
        message: 'this is the public demo / AWS test-client credential; anyone can sign requests with it',
        fix: 'replace it with one from `xks-proxy credentials generate` before any real key is used',
      }),
    );
  } else if (!isSecretRef(cred.secretAccessKey)) {
    results.push(
      warn({
        group: 'credentials',
        id: 'credentials.format',
        subject,
        message: 'well-formed, but the secret is written inline in the config file',
        fix: 'move it to a file (secretAccessKey: file:PATH, mode 600) or an environment variable (env:NAME)',
      }),
    );
  } else {
    results.push(ok({ group: 'credentials', id: 'credentials.format', subject, message: "access key id and secret have the spec's format" }));
  }
  results.push(checkAge(subject, cred.createdAt, opts));
  return results;
}

function checkAge(subject: string, createdAt: string | undefined, opts: CredentialCheckOptions): CheckResult {
  const maxAgeDays = opts.maxAgeDays ?? DEFAULT_MAX_CREDENTIAL_AGE_DAYS;
  if (createdAt === undefined) {
    return ok({ group: 'credentials', id: 'credentials.age', subject, message: 'age unknown: no createdAt in the config (add one to get rotation reminders)' });
  }
  const created = Date.parse(createdAt);
  if (Number.isNaN(created)) {
    return warn({
      group: 'credentials',
      id: 'credentials.age',
      subject,
      message: `createdAt "${createdAt}" is not a date`,
      fix: 'write createdAt as an ISO date, e.g. 2025-01-31',
    });
  }
  const ageDays = Math.floor(((opts.now ?? new Date()).getTime() - created) / 86_400_000);
  const data = { createdAt, ageDays, maxAgeDays };
  if (ageDays > maxAgeDays) {
    return warn({
      group: 'credentials',
      id: 'credentials.age',
      subject,
      message: `created ${ageDays} days ago, older than ${maxAgeDays} days`,
      fix: 'rotate: add a new credential next to it, update it in KMS (UpdateCustomKeyStore), then remove the old one',
      data,
    });
  }
  return ok({ group: 'credentials', id: 'credentials.age', subject, message: `created ${ageDays} days ago (rotation suggested after ${maxAgeDays})`, data });
}

function checkRotation(ks: KeyStoreConfig): CheckResult {
  const subject = `${storeName(ks)}.credentials`;
  if (ks.credentials.length === 1) {
    return warn({
      group: 'credentials',
      id: 'credentials.rotation',
      subject,
      message: 'only one credential is configured, so there is no way to rotate it without an outage',
      fix: 'add a second credential before changing the one KMS uses (the spec allows two at once)',
    });
  }
  return ok({
    group: 'credentials',
    id: 'credentials.rotation',
    subject,
    message: `${ks.credentials.length} credentials accepted at once (rotation possible)`,
  });
}
