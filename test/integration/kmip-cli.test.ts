/**
 * `xks-proxy kmip keys create|list` against a real PyKMIP server, configured through a
 * proxy config file whose relative paths resolve against the file's directory.
 */
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { kmipCommand } from '../../src/cli/kmip-command.ts';
import { createKmipProvider } from '../../src/providers/kmip/kmip-provider.ts';
import type { PykmipServer } from '../../src/providers/kmip/pykmip-process.ts';
import { createPykmipEnv, type PykmipEnv } from '../support/pykmip.ts';

let env: PykmipEnv;
let server: PykmipServer;
let configPath: string;

function keyStore(prefix: string, provider: Record<string, unknown>) {
  return { prefix, credentials: [{ accessKeyId: 'AKIAIOSFODNN7EXAMPLEAB', secretAccessKey: 'env:UNUSED' }], provider };
}

beforeAll(async () => {
  env = await createPykmipEnv();
  server = await env.startServer();
  const tls = { ca: basename(env.pki.caCert), cert: basename(env.pki.clientCert), key: basename(env.pki.clientKey) };
  const kmip = (keyNamePrefix: string) => ({
    type: 'kmip',
    servers: [{ id: 'pykmip', host: '127.0.0.1', port: server.port, serverName: 'localhost' }],
    tls,
    keyNamePrefix,
  });
  configPath = join(env.dir, 'xks-proxy.yaml');
  await writeFile(configPath, stringify({ keyStores: [keyStore('a', kmip('')), keyStore('b', kmip('tenant-b.'))] }));
}, 60_000);

afterAll(async () => {
  await env?.cleanup();
});

afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** Runs the command in-process and returns what it printed. */
async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    await kmipCommand()
      .exitOverride()
      .parseAsync(['node', 'kmip', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stdout, stderr, exitCode };
}

describe('xks-proxy kmip keys', () => {
  it('creates active keys with the usage mask asked for and lists them', async () => {
    for (const [name, usage] of [
      ['cli_both', 'encrypt,decrypt'],
      ['cli_enc', 'encrypt'],
      ['cli_dec', 'decrypt'],
      ['cli_none', 'none'],
    ] as const) {
      const r = await cli('keys', 'create', name, '--usage', usage, '-c', configPath, '--prefix', 'a');
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^created key ${name} on pykmip: KMIP name "${name}", unique id \\S+, usage ${usage}, Active\\n$`));
    }
    const list = await cli('keys', 'list', '-c', configPath, '--prefix', 'a');
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^KEY ID\s+KMIP NAME\s+UNIQUE ID\s+USAGE\s+STATE\s+ALGORITHM$/);
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))?.split(/\s+/);
    expect(row('cli_both')?.slice(3)).toEqual(['encrypt,decrypt', 'Active', 'AES-256']);
    expect(row('cli_enc')?.slice(3)).toEqual(['encrypt', 'Active', 'AES-256']);
    expect(row('cli_dec')?.slice(3)).toEqual(['decrypt', 'Active', 'AES-256']);
    expect(row('cli_none')?.slice(3)).toEqual(['none', 'Active', 'AES-256']);
  });

  it('creates keys the provider then serves with those usages', async () => {
    const provider = createKmipProvider(env.providerConfig([server]), env.deps());
    await provider.init();
    try {
      const ctx = { deadline: Date.now() + 2_000, signal: AbortSignal.timeout(2_000) };
      expect((await provider.describe('cli_enc', ctx)).usages).toEqual(['ENCRYPT']);
      expect(await provider.describe('cli_none', ctx)).toMatchObject({ usages: [], enabled: true });
    } finally {
      await provider.close();
    }
  });

  it('leaves a key Pre-Active with --no-activate', async () => {
    const r = await cli('keys', 'create', 'cli_later', '--usage', 'encrypt,decrypt', '--no-activate', '-c', configPath, '--prefix', 'a');
    expect(r.stdout).toContain('Pre-Active');
    const list = await cli('keys', 'list', '--json', '-c', configPath, '--prefix', 'a');
    const keys = JSON.parse(list.stdout) as Array<{ names: string[]; state: string }>;
    expect(keys.find((k) => k.names[0] === 'cli_later')?.state).toBe('PreActive');
  });

  it('applies the key store keyNamePrefix to the KMIP name', async () => {
    const r = await cli('keys', 'create', 'shared', '--usage', 'encrypt', '-c', configPath, '--prefix', 'b');
    expect(r.stdout).toContain('KMIP name "tenant-b.shared"');
    const list = await cli('keys', 'list', '-c', configPath, '--prefix', 'b');
    expect(list.stdout).toMatch(/^shared\s+tenant-b\.shared\s/m);
  });

  it('refuses to create a second key with the same name', async () => {
    const r = await cli('keys', 'create', '--name', 'cli_both', '--usage', 'encrypt', '-c', configPath, '--prefix', 'a');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^error: a key named "cli_both" already exists/);
  });

  it('asks for --prefix when several key stores use kmip, and rejects a bad usage', async () => {
    const ambiguous = await cli('keys', 'list', '-c', configPath);
    expect(ambiguous.exitCode).toBe(1);
    expect(ambiguous.stderr).toContain('choose one with --prefix');
    const bad = await cli('keys', 'create', 'x', '--usage', 'sign', '-c', configPath, '--prefix', 'a');
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain('invalid --usage "sign"');
  });
});
