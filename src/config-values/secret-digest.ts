import { createHmac, randomBytes } from 'node:crypto';
import { isSecretRef, resolveSecretRef } from './secret-ref.ts';

/**
 * Keys the digests below, per process: a digest kept in memory is then no dictionary
 * oracle for a low-entropy secret such as a PIN, and means nothing outside this process.
 */
const DIGEST_KEY = randomBytes(32);

/**
 * A digest of the *current values* of every secret reference (`env:NAME`, `file:PATH`)
 * inside `value` (a provider config), walked in order. A reload compares it with the
 * digest taken when the provider was built: the config text can stay the same while a
 * secret file or variable changed (a wrong passphrase file fixed), and then the provider
 * must be built anew with the new secret. Throws (naming the field, never the secret)
 * when a reference cannot be read.
 */
export function secretRefsDigest(value: unknown, env: NodeJS.ProcessEnv, baseDir: string, field: string): string {
  const mac = createHmac('sha256', DIGEST_KEY);
  const visit = (v: unknown, path: string): void => {
    if (typeof v === 'string') {
      if (!isSecretRef(v)) return;
      const resolved = resolveSecretRef(v, path, env, baseDir);
      mac.update(`${path}\0${v}\0${resolved.length}\0`).update(resolved).update('\0');
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => visit(item, `${path}.${i}`));
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) visit(item, `${path}.${k}`);
    }
  };
  visit(value, field);
  return mac.digest('base64');
}
