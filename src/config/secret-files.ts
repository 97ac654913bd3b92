import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ProxyConfig } from './schema.ts';

/** A secret file that users other than the proxy's own can read. */
export interface ExposedSecretFile {
  field: string;
  path: string;
  /** Permission bits, octal, e.g. "644". */
  mode: string;
}

/** Every `file:` secret reference in the config, with the dotted field that holds it. */
function fileRefs(value: unknown, field: string, out: Array<{ field: string; file: string }>): void {
  if (typeof value === 'string') {
    if (value.startsWith('file:')) out.push({ field, file: value.slice(5) });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => fileRefs(v, `${field}.${i}`, out));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) fileRefs(v, field === '' ? k : `${field}.${k}`, out);
  }
}

/**
 * Secret files (every `file:` reference, and the TLS private key) whose mode lets group or
 * others read them. The keystore file got this warning from the start; a secret file is as
 * sensitive, so it gets the same. Files that cannot be read are left to the checks that
 * resolve them.
 */
export function exposedSecretFiles(config: ProxyConfig, configDir: string): ExposedSecretFile[] {
  const refs: Array<{ field: string; file: string }> = [];
  fileRefs(config, '', refs);
  if (config.server.tls !== undefined) refs.push({ field: 'server.tls.key', file: config.server.tls.key });
  const exposed: ExposedSecretFile[] = [];
  for (const { field, file } of refs) {
    const path = resolve(configDir, file);
    try {
      const mode = statSync(path).mode & 0o777;
      if ((mode & 0o077) !== 0) exposed.push({ field, path, mode: mode.toString(8) });
    } catch {
      // missing or unreadable: reported where the secret is resolved
    }
  }
  return exposed;
}

/** The one sentence both `config check` and the serving proxy say about such a file. */
export function exposedSecretMessage(f: ExposedSecretFile): string {
  return `${f.path} is readable by group or others (mode ${f.mode}); chmod 600 it`;
}
