import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { proxyConfigSchema, type ProxyConfig } from './schema.ts';

/** A config file that failed to load: every message names the file and the field. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`invalid config ${file}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A parsed config and where it came from. */
export interface LoadedConfig {
  config: ProxyConfig;
  /** Absolute path of the file. */
  file: string;
  /** Directory of the file; relative paths inside the config resolve against it. */
  configDir: string;
}

/** Turns zod issues into "field.path: message" lines. */
export function describeZodIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.map((p) => String(p)).join('.') : '(top level)';
    return `${field}: ${issue.message}`;
  });
}

/** Validates an already-parsed config object (from YAML or JSON). */
export function parseConfig(raw: unknown, file: string): ProxyConfig {
  const result = proxyConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, describeZodIssues(result.error.issues));
  return result.data;
}

/** Reads and validates a YAML or JSON config file. */
export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(file, [`cannot read the file (${code})`]);
  }
  let raw: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both formats.
    raw = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    throw new ConfigError(file, [`not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`]);
  }
  return { config: parseConfig(raw, file), file, configDir: dirname(file) };
}
