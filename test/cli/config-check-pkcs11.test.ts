import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSoftHsmFixture, type SoftHsmFixture } from '../support/softhsm.ts';
import { runCli } from '../support/cli-process.ts';

let fx: SoftHsmFixture;

beforeAll(async () => {
  fx = await createSoftHsmFixture(['xks-check']);
  await writeFile(join(fx.dir, 'wrong-pin'), '000000\n');
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
