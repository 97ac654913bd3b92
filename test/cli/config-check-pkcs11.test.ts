import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNssDatabase, findNssModule, NSS_KEY_TOKEN_LABEL, nssLibraryParameters } from '../../src/providers/pkcs11/pkcs11-nss.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from '../support/softhsm.ts';
import { runCli } from '../support/cli-process.ts';

let fx: SoftHsmFixture;

beforeAll(async () => {
  fx = await createSoftHsmFixture(['xks-check']);
  await writeFile(join(fx.dir, 'wrong-pin'), '000000\n');
  await ensureNssDatabase(join(fx.dir, 'nss'));
});
afterAll(() => fx?.cleanup());

/** Writes a config with a pkcs11 key store and runs `config check` on it. */
async function check(provider: { module?: string; label?: string; pinFile?: string }) {
  const file = join(fx.dir, 'check.yaml');
  await writeFile(
    file,
    [
      'keyStores:',
      '  - prefix: hsm',
      '    credentials:',
      '      - { accessKeyId: BETWEEN2TENAND3TENCHARACTERS, secretAccessKey: PleaseReplaceThisWithSomeSecretOfLength43To64 }',
      '    provider:',
      '      type: pkcs11',
      `      module: ${provider.module ?? fx.modulePath}`,
      `      pin: file:${provider.pinFile ?? fx.tokens[0]!.pinFile}`,
      `      tokens: [{ label: ${provider.label ?? 'xks-check'} }]`,
      '',
    ].join('\n'),
  );
  return runCli(['config', 'check', '--config', file], { SOFTHSM2_CONF: fx.confPath });
}

describe('config check on a pkcs11 key store (real SoftHSM2)', () => {
  it('names the module field when the library file is missing', async () => {
    const { code, stdout } = await check({ module: '/usr/lib/softhsm/no-such-library.so' });
    expect(code).toBe(1);
    expect(stdout).toMatch(/fail +keyStores\[prefix="hsm"\]\.provider\.module: .*does not exist/);
  });

  it('names the token label field and lists the tokens present', async () => {
    const { code, stdout } = await check({ label: 'no-such-token' });
    expect(code).toBe(1);
    expect(stdout).toMatch(/provider\.tokens\.0\.label: no token with label "no-such-token"; present: "xks-check"/);
  });

  it('names the pin field when the token refuses the PIN', async () => {
    const { code, stdout } = await check({ pinFile: join(fx.dir, 'wrong-pin') });
    expect(code).toBe(1);
    expect(stdout).toMatch(/provider\.pin: .*wrong PIN/);
  });
});

/** Writes a config serving the NSS database in the fixture dir (`provider` lines replace the defaults) and checks it. */
async function checkNss(lines: string[]) {
  const file = join(fx.dir, 'check-nss.yaml');
  await writeFile(
    file,
    [
      'keyStores:',
      '  - prefix: nss',
      '    credentials:',
      '      - { accessKeyId: BETWEEN2TENAND3TENCHARACTERS, secretAccessKey: PleaseReplaceThisWithSomeSecretOfLength43To64 }',
      '    provider:',
      '      type: pkcs11',
      `      module: ${findNssModule()}`,
      ...lines.map((l) => `      ${l}`),
      `      tokens: [{ name: nss, label: ${NSS_KEY_TOKEN_LABEL} }]`,
      '',
    ].join('\n'),
  );
  return runCli(['config', 'check', '--config', file]);
}

describe('config check reads the library vendor from C_GetInfo (real SoftHSM2 and NSS softoken)', () => {
  it('warns that SoftHSM2 is a software token, by its manufacturer "SoftHSM"', async () => {
    const { stdout } = await check({});
    expect(stdout).toMatch(/warn +keyStores\[prefix="hsm"\]\.provider\.module: SoftHSMv2 \(SoftHSM\): SoftHSMv2 is a software token/);
  });

  it('serves NSS softoken with libraryParameters and login none, warning only what NSS is', async () => {
    const { code, stdout } = await checkNss([`libraryParameters: "${nssLibraryParameters(join(fx.dir, 'nss'))}"`, 'login: none']);
    expect(stdout).toMatch(/warn +keyStores\[prefix="nss"\]\.provider\.module: NSS softoken \(Mozilla Foundation\): NSS softoken is a software token/);
    expect(stdout).not.toMatch(/use login: none/);
    expect(stdout).toMatch(/healthKeyLabel: token nss: no key labelled "xks-health-canary"/);
    expect(stdout).not.toMatch(/^fail/m);
    expect(code).toBe(0);
  });

  it('tells an NSS user with login: user that an empty-password database needs login: none', async () => {
    await writeFile(join(fx.dir, 'nss-pin'), 'x\n');
    const { stdout } = await checkNss([`libraryParameters: "${nssLibraryParameters(join(fx.dir, 'nss'))}"`, `pin: file:${join(fx.dir, 'nss-pin')}`]);
    expect(stdout).toMatch(/NSS softoken \(Mozilla Foundation\): an NSS database with an empty password needs no login: use login: none/);
  });

  it('names libraryParameters when NSS softoken refuses C_Initialize without them', async () => {
    const { code, stdout } = await checkNss(['login: none']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/fail +keyStores\[prefix="nss"\]\.provider\.module: cannot load PKCS#11 library .*CKR_ARGUMENTS_BAD.*may need libraryParameters/);
  });
});
