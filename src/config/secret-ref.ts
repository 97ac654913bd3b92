import { readFileSync } from 'node:fs';

/**
 * Resolves a secret reference from config: `env:NAME` reads an environment variable,
 * `file:PATH` reads a file (trailing newline trimmed); anything else is the literal value.
 * Errors name the reference, never the secret.
 */
export function resolveSecretRef(ref: string, field: string, env: NodeJS.ProcessEnv = process.env): string {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const value = env[name];
    if (value === undefined || value === '') {
      throw new Error(`${field}: environment variable ${name} is not set`);
    }
    return value;
  }
  if (ref.startsWith('file:')) {
    const path = ref.slice(5);
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
