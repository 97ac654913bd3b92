import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoKeystore } from '../../src/providers/software/software-demo-setup.ts';
import { runCli } from '../support/cli-process.ts';
import { createTestPki, type TestPki } from '../support/tls-certs.ts';

let dir: string;
let kek: string;
const SECRET = 'ZmFrZS1zZWNyZXQtZm9yLXRlc3RzLW9ubHktNDMtY2hhcnMtbG9uZw==';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xks-cli-'));
  kek = randomBytes(32).toString('hex');
  await ensureDemoKeystore(join(dir, 'keystore.json'), { kek });
  await writeFile(join(dir, 'secret'), `${SECRET}\n`, { mode: 0o600 });
  await writeFile(
    join(dir, 'good.yaml'),
    [
      'keyStores:',
      '  - prefix: tenant/a',
      '    credentials:',
      '      - accessKeyId: AAAAAAAAAAAAAAAAAAAA2345',
      '        secretAccessKey: file:secret',
      '      - accessKeyId: BBBBBBBBBBBBBBBBBBBB2345',
      '        secretAccessKey: env:XKS_TEST_SECRET_B',
      '    provider:',
      '      type: software',
      '      path: keystore.json',
      `      kek: ${kek}`,
      '',
    ].join('\n'),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('xks-proxy --help', () => {
  it.each(['serve', 'demo', 'keys', 'credentials', 'kms-config', 'config'])('documents the %s command', async (cmd) => {
    const { code, stdout } = await runCli([cmd, '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: xks-proxy/);
  });
});

describe('option values the CLI refuses', () => {
  it.each([
    [['serve', '--workers', 'abc'], "option '-w, --workers <n>' argument 'abc' is invalid"],
    [['serve', '--port', '99999'], "option '-p, --port <port>' argument '99999' is invalid"],
    [['doctor', '--skip', 'nonsense'], 'unknown check group "nonsense"'],
    [['credentials', 'list', '--max-age-days', 'x'], "argument 'x' is invalid"],
  ])('%j: one line naming the option, exit 1, no stack trace', async (args, message) => {
    const { code, stderr } = await runCli(args);
    expect(code).toBe(1);
    expect(stderr).toContain(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('--help names $XKS_PROXY_CONFIG as the default config, whatever the environment says', async () => {
    const { stdout } = await runCli(['serve', '--help'], { XKS_PROXY_CONFIG: '/etc/elsewhere.yaml' });
    expect(stdout.replace(/\s+/g, ' ')).toContain('(default: $XKS_PROXY_CONFIG, else ./xks-proxy.yaml)');
    expect(stdout).not.toContain('/etc/elsewhere.yaml');
  });
});

describe('credentials generate', () => {
  it('prints an access key id and secret in the spec formats', async () => {
    const { code, stdout } = await runCli(['credentials', 'generate', '--json']);
    expect(code).toBe(0);
    const cred = JSON.parse(stdout) as { accessKeyId: string; secretAccessKey: string };
    expect(cred.accessKeyId).toMatch(/^[A-Z2-7]{20,30}$/);
    expect(cred.secretAccessKey).toMatch(/^[A-Za-z0-9+/=]{43,64}$/);
  });

  it('never prints the same credential twice', async () => {
    const [a, b] = await Promise.all([runCli(['credentials', 'generate', '--json']), runCli(['credentials', 'generate', '--json'])]);
    expect(a.stdout).not.toBe(b.stdout);
  });

  it('writes the secret to a 0600 file beside the config and prints only the reference to it', async () => {
    const { code, stdout } = await runCli(['credentials', 'generate', '--config', join(dir, 'good.yaml')]);
    expect(code).toBe(0);
    const ref = /secretAccessKey: file:(secrets\/xks-secret-[A-Z2-7]+)/.exec(stdout)?.[1];
    expect(ref).toBeDefined();
    const file = join(dir, ref!);
    const secret = (await readFile(file, 'utf8')).trim();
    expect(secret).toMatch(/^[A-Za-z0-9+/=]{43,64}$/);
    expect(stdout).not.toContain(secret);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });
});

describe('kms-config export', () => {
  it('prints the KMS console file with the URI path and the resolved secret', async () => {
    const { code, stdout } = await runCli([
      'kms-config',
      'export',
      '--config',
      join(dir, 'good.yaml'),
      '--prefix',
      'tenant/a',
      '--access-key-id',
      'AAAAAAAAAAAAAAAAAAAA2345',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      XksProxyUriPath: '/tenant/a/kms/xks/v1',
      XksProxyAuthenticationCredential: { AccessKeyId: 'AAAAAAAAAAAAAAAAAAAA2345', RawSecretAccessKey: SECRET },
    });
  });

  it('--output writes the file with mode 0600, even over an existing readable file', async () => {
    const out = join(dir, 'kms-import.json');
    await writeFile(out, 'old', { mode: 0o644 });
    const { code, stdout } = await runCli([
      'kms-config',
      'export',
      '--config',
      join(dir, 'good.yaml'),
      '--prefix',
      'tenant/a',
      '--access-key-id',
      'AAAAAAAAAAAAAAAAAAAA2345',
      '-o',
      out,
    ]);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(out, 'utf8'))).toMatchObject({ XksProxyUriPath: '/tenant/a/kms/xks/v1' });
  });

  it('--format cli-create writes the --cli-input-json document of aws kms create-custom-key-store', async () => {
    const { code, stdout, stderr } = await runCli([
      'kms-config',
      'export',
      '--config',
      join(dir, 'good.yaml'),
      '--prefix',
      'tenant/a',
      '--access-key-id',
      'AAAAAAAAAAAAAAAAAAAA2345',
      '--format',
      'cli-create',
      '--name',
      'tenant-a',
      '--endpoint',
      'https://xks.example.com',
      '--vpc-endpoint-service-name',
      'com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      CustomKeyStoreName: 'tenant-a',
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyUriEndpoint: 'https://xks.example.com',
      XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE',
      XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0',
      XksProxyUriPath: '/tenant/a/kms/xks/v1',
      XksProxyAuthenticationCredential: { AccessKeyId: 'AAAAAAAAAAAAAAAAAAAA2345', RawSecretAccessKey: SECRET },
    });
    const missing = await runCli([
      'kms-config',
      'export',
      '--config',
      join(dir, 'good.yaml'),
      '--prefix',
      'tenant/a',
      '--access-key-id',
      'AAAAAAAAAAAAAAAAAAAA2345',
      '--format',
      'cli-update',
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('--format cli-update needs --custom-key-store-id');
  });

  it('names the configured prefixes when the prefix is unknown', async () => {
    const { code, stderr } = await runCli(['kms-config', 'export', '--config', join(dir, 'good.yaml'), '--prefix', 'nope']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/no key store with prefix "nope".*"tenant\/a"/);
  });
});

describe('config check', () => {
  it('passes a valid config and runs the provider health check', async () => {
    const { code, stdout } = await runCli(['config', 'check', '--config', join(dir, 'good.yaml')], { XKS_TEST_SECRET_B: SECRET });
    expect(code).toBe(0);
    expect(stdout).toMatch(/ok +keyStores\[prefix="tenant\/a"\]\.provider keystore\.json/);
    expect(stdout).toMatch(/is valid/);
  });

  it('names the field of a missing secret reference', async () => {
    const { code, stdout } = await runCli(['config', 'check', '--config', join(dir, 'good.yaml')], { XKS_TEST_SECRET_B: '' });
    expect(code).toBe(1);
    expect(stdout).toMatch(/credentials\.1\.secretAccessKey: .*XKS_TEST_SECRET_B is not set/);
  });

  it('names the fields of schema errors', async () => {
    await writeFile(
      join(dir, 'bad.yaml'),
      'server:\n  port: 99999\nkeyStores:\n  - prefix: /bad/\n    credentials: []\n    provider: {type: software, path: x}\n',
    );
    const { code, stderr } = await runCli(['config', 'check', '--config', join(dir, 'bad.yaml')]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/server\.port/);
    expect(stderr).toMatch(/keyStores\.0\.prefix/);
    expect(stderr).toMatch(/keyStores\.0\.credentials/);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('reports a keystore that cannot be opened with the wrong key', async () => {
    const wrong = (await import('node:fs/promises')).readFile(join(dir, 'good.yaml'), 'utf8');
    await writeFile(join(dir, 'wrongkek.yaml'), (await wrong).replace(kek, randomBytes(32).toString('hex')));
    const { code, stdout } = await runCli(['config', 'check', '--config', join(dir, 'wrongkek.yaml')], { XKS_TEST_SECRET_B: SECRET });
    expect(code).toBe(1);
    expect(stdout).toMatch(/fail .*keystore\.json/);
  });

  it('warns about a secret file readable by group or others, naming the field', async () => {
    await writeFile(join(dir, 'loose-secret'), `${SECRET}\n`, { mode: 0o644 });
    await chmod(join(dir, 'loose-secret'), 0o644);
    const good = await readFile(join(dir, 'good.yaml'), 'utf8');
    await writeFile(join(dir, 'loose.yaml'), good.replace('file:secret', 'file:loose-secret'));
    const { code, stdout } = await runCli(['config', 'check', '--config', join(dir, 'loose.yaml')], { XKS_TEST_SECRET_B: SECRET });
    expect(code).toBe(0);
    expect(stdout).toMatch(/warn +keyStores\.0\.credentials\.0\.secretAccessKey: .*loose-secret is readable by group or others \(mode 644\); chmod 600 it/);
  });

  it('refuses a credential createdAt in the future', async () => {
    const good = await readFile(join(dir, 'good.yaml'), 'utf8');
    const future = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    await writeFile(join(dir, 'future.yaml'), good.replace('secretAccessKey: file:secret', `secretAccessKey: file:secret\n        createdAt: ${future}`));
    const { code, stderr } = await runCli(['config', 'check', '--config', join(dir, 'future.yaml')], { XKS_TEST_SECRET_B: SECRET });
    expect(code).toBe(1);
    expect(stderr).toMatch(/keyStores\.0\.credentials\.0\.createdAt: is in the future/);
  });

  describe('the listener TLS files', () => {
    let pki: TestPki;
    beforeAll(() => {
      pki = createTestPki();
    });
    afterAll(() => pki.cleanup());

    async function configWithTls(name: string, cert: string, key: string): Promise<string> {
      const good = await readFile(join(dir, 'good.yaml'), 'utf8');
      await writeFile(join(dir, name), `server:\n  tls: { cert: ${cert}, key: ${key} }\n${good}`);
      return join(dir, name);
    }

    it('fails a certificate file that does not exist, naming server.tls.cert', async () => {
      const file = await configWithTls('nocert.yaml', join(pki.dir, 'nope.crt'), pki.serverKey);
      const { code, stdout } = await runCli(['config', 'check', '--config', file], { XKS_TEST_SECRET_B: SECRET });
      expect(code).toBe(1);
      expect(stdout).toMatch(/fail +server\.tls\.cert: cannot read .*nope\.crt: no such file/);
    });

    it('fails a key that does not belong to the certificate, in config check and in serve', async () => {
      const file = await configWithTls('mismatch.yaml', pki.serverCert, pki.clientKey);
      const check = await runCli(['config', 'check', '--config', file], { XKS_TEST_SECRET_B: SECRET });
      expect(check.code).toBe(1);
      expect(check.stdout).toMatch(/fail +server\.tls\.key: does not match server\.tls\.cert/);
      const serve = await runCli(['serve', '--config', file, '--workers', '1'], { XKS_TEST_SECRET_B: SECRET });
      expect(serve.code).toBe(1);
      expect(serve.stderr).toMatch(/server\.tls\.key: does not match server\.tls\.cert/);
      expect(serve.stderr).not.toMatch(/\n\s+at /);
    });

    it('passes a matching certificate and key', async () => {
      const file = await configWithTls('tlsok.yaml', pki.serverCert, pki.serverKey);
      const { stdout } = await runCli(['config', 'check', '--config', file], { XKS_TEST_SECRET_B: SECRET });
      expect(stdout).not.toMatch(/server\.tls\.(cert|key):/);
    });
  });

  it('reports a missing config file clearly', async () => {
    const { code, stderr } = await runCli(['config', 'check', '--config', join(dir, 'missing.yaml')]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/missing\.yaml.*ENOENT/s);
  });
});
