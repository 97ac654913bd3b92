import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hsmCommand } from '../../src/cli/hsm-command.ts';
import { checkPkcs11Config } from '../../src/providers/pkcs11/pkcs11-config-check.ts';
import { ensureNssDatabase, findNssModule, NSS_KEY_TOKEN_LABEL, nssLibraryParameters } from '../../src/providers/pkcs11/pkcs11-nss.ts';
import { budget, fixtureConfig, startProvider } from '../support/pkcs11-provider-harness.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from '../support/softhsm.ts';

const TOKEN = 'xks-admin';
let fx: SoftHsmFixture;

beforeAll(async () => {
  fx = await createSoftHsmFixture([TOKEN]);
  fx.generateKey(TOKEN, 'short_key', { encrypt: true, decrypt: true }, 16);
});

afterAll(async () => {
  await fx?.cleanup();
});

/** Runs `xks-proxy hsm ...` in-process; returns stdout, stderr and the exit code it set. */
async function hsm(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  let stdout = '';
  let stderr = '';
  const outWrite = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = (s: string) => ((stdout += s), true);
  process.stderr.write = (s: string) => ((stderr += s), true);
  process.exitCode = 0;
  try {
    const program = new Command('xks-proxy').exitOverride().addCommand(hsmCommand());
    await program.parseAsync(['hsm', ...args], { from: 'user' });
  } finally {
    process.stdout.write = outWrite;
    process.stderr.write = errWrite;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { stdout, stderr, code };
}

function target(): string[] {
  return ['--module', fx.modulePath, '--token-label', TOKEN, '--pin', `file:${fx.tokens[0]?.pinFile}`];
}

describe('xks-proxy hsm keys on a real SoftHSM2 token', () => {
  it('creates keys with each usage inside the token, and the provider reports those usages', async () => {
    for (const [label, usage] of [
      ['cli_both', 'encrypt,decrypt'],
      ['cli_enc', 'encrypt'],
      ['cli_dec', 'decrypt'],
      ['cli_none', 'none'],
    ] as const) {
      const r = await hsm('keys', 'create', label, '--usage', usage, ...target());
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toContain(`created AES-256 key "${label}"`);
    }
    const provider = await startProvider(fx);
    try {
      expect((await provider.describe('cli_both', budget())).usages).toEqual(['ENCRYPT', 'DECRYPT']);
      expect((await provider.describe('cli_enc', budget())).usages).toEqual(['ENCRYPT']);
      expect((await provider.describe('cli_dec', budget())).usages).toEqual(['DECRYPT']);
      expect((await provider.describe('cli_none', budget())).usages).toEqual([]);
    } finally {
      await provider.close();
    }
  });

  it('lists keys as sensitive and not extractable, and flags keys XKS cannot use', async () => {
    const r = await hsm('keys', 'list', '--json', ...target());
    expect(r.code).toBe(0);
    const keys = JSON.parse(r.stdout) as Array<{ label: string; sensitive: boolean; extractable: boolean; problem?: string; bits: number }>;
    expect(keys.find((k) => k.label === 'cli_both')).toMatchObject({ sensitive: true, extractable: false, bits: 256 });
    expect(keys.find((k) => k.label === 'cli_both')?.problem).toBeUndefined();
    expect(keys.find((k) => k.label === 'short_key')).toMatchObject({ bits: 128, problem: 'not AES-256' });
    const table = await hsm('keys', 'list', ...target());
    expect(table.stdout).toMatch(/cli_enc\s+AES-256\s+encrypt\s+yes\s+no\s+usable/);
    expect(table.stdout).toMatch(/short_key\s+AES-128.*unusable: not AES-256/);
  });

  it('refuses a label that already exists, and a PIN given on the command line', async () => {
    const dup = await hsm('keys', 'create', '--label', 'cli_both', ...target());
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('already exists');
    const inline = await hsm('keys', 'create', 'x', '--module', fx.modulePath, '--token-label', TOKEN, '--pin', fx.tokens[0]?.pin as string);
    expect(inline.code).toBe(1);
    expect(inline.stderr).toContain('secret reference');
  });

  it('creates the health canary, after which the deep health check is ACTIVE', async () => {
    const before = await startProvider(fx);
    try {
      expect((await before.health(budget()))[0]?.healthStatus).toBe('DEGRADED');
    } finally {
      await before.close();
    }
    expect((await hsm('keys', 'create-canary', ...target())).code).toBe(0);
    const after = await startProvider(fx);
    try {
      expect((await after.health(budget()))[0]?.healthStatus).toBe('ACTIVE');
    } finally {
      await after.close();
    }
  });
});

describe('checkPkcs11Config on a real SoftHSM2 token', () => {
  const deps = () => ({ configDir: fx.dir, env: { UV_THREADPOOL_SIZE: '16' } });
  /** The vendor warning C_GetInfo yields for SoftHSM2 on every check; asserted once below. */
  const isVendorNote = (p: { field: string; message: string }): boolean => p.field === 'module' && p.message.startsWith('SoftHSMv2 (SoftHSM): ');
  const check = async (...args: Parameters<typeof checkPkcs11Config>) => (await checkPkcs11Config(...args)).filter((p) => !isVendorNote(p));

  it('finds nothing wrong with a working config but notes that SoftHSM2 is a software token', async () => {
    const problems = await checkPkcs11Config(fixtureConfig(fx), deps());
    expect(problems).toEqual([{ level: 'warn', field: 'module', message: expect.stringMatching(/^SoftHSMv2 \(SoftHSM\): .*software token/) }]);
  });

  it('names the module field when the library file is missing', async () => {
    const problems = await checkPkcs11Config({ ...fixtureConfig(fx), module: join(fx.dir, 'missing.so') }, deps());
    expect(problems).toEqual([{ level: 'fail', field: 'module', message: expect.stringContaining('does not exist') }]);
  });

  it('names the token field and lists the tokens present when the label is unknown', async () => {
    const config = fixtureConfig(fx);
    config.tokens = [{ label: 'nope', pin: config.tokens[0]?.pin }];
    const problems = await check(config, deps());
    expect(problems).toEqual([{ level: 'fail', field: 'tokens.0.label', message: expect.stringContaining(`present: "${TOKEN}"`) }]);
  });

  it('names the PIN field for a wrong PIN and for an unreadable PIN file', async () => {
    const wrong = join(fx.dir, 'wrong-pin');
    await writeFile(wrong, '000000\n');
    const config = fixtureConfig(fx);
    config.tokens = [{ label: TOKEN, pin: `file:${wrong}` }];
    expect(await check(config, deps())).toEqual([{ level: 'fail', field: 'tokens.0.pin', message: expect.stringContaining('wrong PIN') }]);
    config.tokens = [{ label: TOKEN, pin: 'file:no-such-pin-file' }];
    expect(await check(config, deps())).toEqual([{ level: 'fail', field: 'tokens.0.pin', message: expect.stringContaining('cannot read secret file') }]);
  });

  it('warns about a missing canary, a missing mapped key, and too few libuv threads', async () => {
    const config = fixtureConfig(fx, { healthKeyLabel: 'absent-canary', keyLabels: { 'alias-1': 'absent-key' }, sessionsPerToken: 8 });
    const problems = await check(config, { configDir: fx.dir, env: {} });
    expect(problems).toEqual([
      { level: 'warn', field: 'healthKeyLabel', message: expect.stringContaining('hsm keys create-canary') },
      { level: 'warn', field: 'keyLabels.alias-1', message: expect.stringContaining('no key labelled "absent-key"') },
      { level: 'warn', field: 'sessionsPerToken', message: expect.stringContaining('UV_THREADPOOL_SIZE=8') },
    ]);
  });
});

describe('xks-proxy hsm keys on NSS softoken (no login, library parameters on the command line)', () => {
  it('creates a public, sensitive key that a provider with login: none then serves', async () => {
    const dbDir = join(fx.dir, 'nss-admin');
    await ensureNssDatabase(dbDir);
    const target = [
      '--module',
      findNssModule() as string,
      '--token-label',
      NSS_KEY_TOKEN_LABEL,
      '--login',
      'none',
      '--library-parameters',
      nssLibraryParameters(dbDir),
    ];
    expect(await hsm('keys', 'create', '--label', 'nss_key', ...target, '--pin', 'env:X')).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--login none takes no --pin'),
    });
    const created = await hsm('keys', 'create', '--label', 'nss_key', '--usage', 'encrypt', ...target);
    expect(created).toMatchObject({ code: 0, stdout: expect.stringContaining('public object: no login') });
    // Listed from a session that never logged in: only a public object is visible there.
    const listed = JSON.parse((await hsm('keys', 'list', '--json', ...target)).stdout) as Array<Record<string, unknown>>;
    expect(listed).toEqual([
      expect.objectContaining({ label: 'nss_key', type: 'AES', bits: 256, encrypt: true, decrypt: false, sensitive: true, extractable: false }),
    ]);
  });
});
