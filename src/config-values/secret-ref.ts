import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Resolves a secret reference from config: `env:NAME` reads an environment variable,
 * `file:PATH` reads a file (trailing newline trimmed; a relative PATH is resolved against
 * `baseDir`, normally the config file's directory); anything else is the literal value.
 * Errors name the reference, never the secret.
 */
export function resolveSecretRef(ref: string, field: string, env: NodeJS.ProcessEnv = process.env, baseDir?: string): string {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    // Own properties only: `env:constructor` must not read Object.prototype.constructor.
    const value = Object.hasOwn(env, name) ? env[name] : undefined;
    if (typeof value !== 'string' || value === '') {
      throw new Error(`${field}: environment variable ${name} is not set`);
    }
    return value;
  }
  if (ref.startsWith('file:')) {
    const path = baseDir === undefined ? ref.slice(5) : resolve(baseDir, ref.slice(5));
    try {
      return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new Error(`${field}: cannot read secret file ${path} (${code})`);
    }
  }
  return ref;
}

/** True when a config value is a reference rather than an inline secret. */
export function isSecretRef(ref: string): boolean {
  return ref.startsWith('env:') || ref.startsWith('file:');
}
