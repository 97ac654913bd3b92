import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keysCommand } from '../../src/cli/keys-command.ts';
import { SoftwareKeystoreFile } from '../../src/providers/software/software-keystore-file.ts';
import { createSoftwareProvider } from '../../src/providers/software/software-provider.ts';
import { makeTempDir, rawKekSecret } from '../support/software-keystore-fixture.ts';
import { runKeysCli, type CliResult } from '../support/run-keys-cli.ts';

let dir: string;
let cleanup: () => Promise<void>;
const kek = rawKekSecret();
const PASSPHRASE = 'cli-test-passphrase-7f3a9';
const env = { TEST_KEK: kek.kek, TEST_PASSPHRASE: PASSPHRASE };
const ctx = () => ({ deadline: Date.now() + 1000, signal: new AbortController().signal });

const cli = (...args: string[]) => runKeysCli(args, { cwd: dir, env });
const withKek = ['--keystore', 'ks.json', '--kek', 'env:TEST_KEK'];

/** A failed run: exit 1, exactly one line on stderr, no stack trace, no secret. */
function expectOneLineError(r: CliResult, pattern: RegExp): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr + r.stdout).not.toContain(PASSPHRASE);
  expect(r.stderr + r.stdout).not.toContain(kek.kek);
}

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(() => cleanup());

describe('xks-proxy keys', () => {
  it('has a description and --help for every subcommand', () => {
    const keys = keysCommand();
    expect(keys.description()).not.toBe('');
    const names = keys.commands.map((c) => c.name()).sort();
    expect(names).toEqual(['create', 'disable', 'enable', 'export', 'import', 'init', 'list', 'rotate']);
    for (const c of keys.commands) {
      expect(c.description().length, c.name()).toBeGreaterThan(10);
      expect(c.helpInformation()).toContain('--keystore <file>');
      expect(c.helpInformation()).toContain('--config <file>');
    }
  });

  it('prints help for a subcommand from the real process', async () => {
    const r = await cli('create', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: xks-proxy keys create \[options\] <keyId>/);
    expect(r.stdout).toContain('--usage <usage>');
  });

  it('runs init, create, rotate, disable, enable and list on a keystore file', async () => {
    expect(await cli('init', ...withKek)).toMatchObject({ code: 0, stdout: expect.stringContaining('created empty keystore') });
    expect((await stat(join(dir, 'ks.json'))).mode & 0o777).toBe(0o600);
    expect((await cli('create', 'foo', ...withKek)).stdout).toMatch(/created key foo \(usage encrypt,decrypt, enabled, current version 1\)/);
    expect((await cli('create', 'enc', '--usage', 'encrypt', ...withKek)).code).toBe(0);
    expect((await cli('create', 'dec', '--usage', 'decrypt', '--disabled', ...withKek)).code).toBe(0);
    expect((await cli('create', 'none', '--usage', 'none', ...withKek)).code).toBe(0);
    expect((await cli('rotate', 'foo', ...withKek)).stdout).toMatch(/version 2 now encrypts/);
    expect((await cli('disable', 'foo', ...withKek)).stdout).toMatch(/disabled key foo/);
    expect((await cli('enable', 'dec', ...withKek)).stdout).toMatch(/enabled key dec/);

    const table = await cli('list', ...withKek);
    expect(table.code).toBe(0);
    const rows = table.stdout
      .trimEnd()
      .split('\n')
      .map((l) => l.split(/\s+/).slice(0, 4));
    expect(rows).toEqual([
      ['KEY', 'ID', 'USAGE', 'STATE'],
      ['dec', 'decrypt', 'enabled', '1'],
      ['enc', 'encrypt', 'enabled', '1'],
      ['foo', 'encrypt,decrypt', 'disabled', '2'],
      ['none', 'none', 'enabled', '1'],
    ]);

    const json = JSON.parse((await cli('list', '--json', ...withKek)).stdout);
    expect(json.find((k: { keyId: string }) => k.keyId === 'foo')).toMatchObject({
      usages: ['ENCRYPT', 'DECRYPT'],
      enabled: false,
      currentVersion: 2,
      versions: [{ version: 1 }, { version: 2 }],
    });
  });

  it('never prints key material', async () => {
    await cli('init', ...withKek);
    const outputs = [await cli('create', 'foo', ...withKek), await cli('rotate', 'foo', ...withKek), await cli('list', '--json', ...withKek)];
    const file = new SoftwareKeystoreFile(join(dir, 'ks.json'), kek);
    const { contents } = await file.read();
    const secrets = [contents.canary, ...contents.keys.get('foo')!.versions.map((v) => v.material)].map((m) => m.expose());
    const text = outputs.map((o) => o.stdout + o.stderr).join('');
    for (const s of secrets) {
      expect(text).not.toContain(s.toString('hex'));
      expect(text).not.toContain(s.toString('base64'));
    }
    file.close();
  });

  it('opens a passphrase keystore through a file: reference', async () => {
    await writeFile(join(dir, 'pass.txt'), `${PASSPHRASE}\n`, { mode: 0o600 });
    const withPass = ['--keystore', 'ks.json', '--passphrase', 'file:pass.txt'];
    expect((await cli('init', ...withPass)).code).toBe(0);
    expect((await cli('create', 'foo', ...withPass)).code).toBe(0);
    expect((await cli('list', ...withPass)).stdout).toMatch(/^foo\s+encrypt,decrypt/m);
    expect(JSON.parse((await readFile(join(dir, 'ks.json'), 'utf8')).split('\n')[0]!).kek.type).toBe('scrypt');
  });

  it('fails with one line and exit 1 for a wrong passphrase, naming the file and leaving it unchanged', async () => {
    await cli('init', '--keystore', 'ks.json', '--passphrase', 'env:TEST_PASSPHRASE');
    const before = await readFile(join(dir, 'ks.json'));
    const r = await runKeysCli(['create', 'foo', '--keystore', 'ks.json', '--passphrase', 'env:WRONG'], { cwd: dir, env: { ...env, WRONG: 'not-it' } });
    expectOneLineError(r, new RegExp(`^error: wrong passphrase for keystore file ${join(dir, 'ks.json')}$`));
    expect(await readFile(join(dir, 'ks.json'))).toEqual(before);
  });

  it('fails with one clear line for the usual mistakes', async () => {
    expectOneLineError(await cli('list', ...withKek), /keystore file .*ks\.json does not exist/);
    await cli('init', ...withKek);
    expectOneLineError(await cli('init', ...withKek), /already exists; refusing to overwrite/);
    expectOneLineError(await cli('create', 'bad/id', ...withKek), /invalid key id "bad\/id"/);
    expectOneLineError(await cli('create', 'x', '--usage', 'sign', ...withKek), /invalid --usage "sign"/);
    expectOneLineError(await cli('rotate', 'ghost', ...withKek), /key ghost does not exist in keystore file/);
    expectOneLineError(await cli('list', '--keystore', 'ks.json', '--passphrase', PASSPHRASE), /--passphrase takes a secret reference/);
    expectOneLineError(await cli('list', '--keystore', 'ks.json'), /exactly one of --passphrase REF or --kek REF/);
    expectOneLineError(await cli('list', '--keystore', 'ks.json', '--kek', 'env:UNSET_VAR'), /environment variable UNSET_VAR is not set/);
  });
});

describe('xks-proxy keys --config', () => {
  const config = (stores: { prefix: string; path: string; secret: string }[]) =>
    [
      'keyStores:',
      ...stores.flatMap((s) => [
        `  - prefix: ${s.prefix}`,
        '    credentials:',
        '      - accessKeyId: BETWEEN2TENAND3TENCHARACTERS',
        '        secretAccessKey: env:XKS_SECRET',
        '    provider:',
        '      type: software',
        `      path: ${s.path}`,
        `      ${s.secret}`,
      ]),
    ].join('\n') + '\n';

  it('uses the software key store of the config, with its relative path and secret', async () => {
    await writeFile(join(dir, 'xks.yaml'), config([{ prefix: 'tenant/a', path: 'data/a.json', secret: 'kek: env:TEST_KEK' }]));
    // Run from another directory: the keystore path is relative to the config file.
    const other = await makeTempDir();
    try {
      const run = (...args: string[]) => runKeysCli([...args, '--config', join(dir, 'xks.yaml')], { cwd: other.dir, env });
      expect((await run('init')).stdout).toContain(join(dir, 'data', 'a.json'));
      expect((await run('create', 'foo')).code).toBe(0);
      expect((await run('list')).stdout).toMatch(/^foo\s/m);
    } finally {
      await other.cleanup();
    }
  });

  it('needs --prefix when several key stores use the software provider', async () => {
    await writeFile(
      join(dir, 'xks.yaml'),
      config([
        { prefix: 'tenant/a', path: 'a.json', secret: 'kek: env:TEST_KEK' },
        { prefix: 'tenant/b', path: 'b.json', secret: 'passphrase: env:TEST_PASSPHRASE' },
      ]),
    );
    expectOneLineError(await cli('init', '--config', 'xks.yaml'), /2 software key stores \(prefixes: "tenant\/a", "tenant\/b"\); choose one with --prefix/);
    expect((await cli('init', '--config', 'xks.yaml', '--prefix', 'tenant/b')).stdout).toContain(join(dir, 'b.json'));
    expect((await cli('create', 'bee', '--config', 'xks.yaml', '--prefix', '/tenant/b/')).code).toBe(0);
    expectOneLineError(await cli('list', '--config', 'xks.yaml', '--prefix', 'tenant/z'), /no key store with prefix "tenant\/z"/);
    expect(JSON.parse((await readFile(join(dir, 'b.json'), 'utf8')).split('\n')[0]!).kek.type).toBe('scrypt');
  });

  it('changes made by the CLI reach a running provider without a restart', async () => {
    await writeFile(join(dir, 'xks.yaml'), config([{ prefix: 'p', path: 'ks.json', secret: 'kek: env:TEST_KEK' }]));
    await cli('init', '--config', 'xks.yaml');
    await cli('create', 'foo', '--config', 'xks.yaml');
    const provider = createSoftwareProvider(
      { type: 'software', path: 'ks.json', kek: 'env:TEST_KEK' },
      { logger: pino({ level: 'silent' }), configDir: dir, env },
    );
    await provider.init();
    try {
      const v1 = await provider.encrypt({ keyId: 'foo', version: 1 }, Buffer.from('before rotation'), Buffer.alloc(0), ctx());
      expect((await cli('create', 'later', '--usage', 'decrypt', '--config', 'xks.yaml')).code).toBe(0);
      expect(await provider.describe('later', ctx())).toMatchObject({ usages: ['DECRYPT'], enabled: true });

      expect((await cli('rotate', 'foo', '--config', 'xks.yaml')).code).toBe(0);
      expect((await cli('disable', 'foo', '--config', 'xks.yaml')).code).toBe(0);
      await new Promise((r) => setTimeout(r, 1100));
      expect(await provider.describe('foo', ctx())).toMatchObject({ enabled: false, currentVersion: 2 });
      expect(Buffer.from(await provider.decrypt({ keyId: 'foo', version: 1 }, v1, Buffer.alloc(0), ctx())).toString()).toBe('before rotation');
    } finally {
      await provider.close();
    }
  });
});
