import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initKeystore, readKeySummaries } from '../../src/providers/software/software-keystore.ts';
import { makeTempDir, rawKekSecret } from '../support/software-keystore-fixture.ts';
import { runKeysCli, runTsx } from '../support/run-keys-cli.ts';

const ADD_KEYS = fileURLToPath(new URL('../support/software-keystore-add-keys.ts', import.meta.url));

let dir: string;
let cleanup: () => Promise<void>;
let path: string;
const secret = rawKekSecret();

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  path = join(dir, 'ks.json');
  await initKeystore(path, secret);
});
afterEach(() => cleanup());

describe('software keystore inter-process lock', () => {
  it('keeps every key when two processes add 20 keys each at the same time', async () => {
    const env = { TEST_KEK: secret.kek };
    const sync = join(dir, 'sync');
    await mkdir(sync);
    const racers = Promise.all([runTsx(ADD_KEYS, [path, 'left', '20', sync], env), runTsx(ADD_KEYS, [path, 'right', '20', sync], env)]);
    // Start both at the same moment: tsx start-up time differs between processes.
    while (!existsSync(join(sync, 'ready-left')) || !existsSync(join(sync, 'ready-right'))) await new Promise((r) => setTimeout(r, 10));
    await writeFile(join(sync, 'go'), '');
    const results = await racers;
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
    const ids = (await readKeySummaries(path, secret)).map((k) => k.keyId);
    expect(ids).toHaveLength(40);
    for (let i = 0; i < 20; i++) expect(ids).toEqual(expect.arrayContaining([`left-${i}`, `right-${i}`]));
    // The lock directory and the temp files are gone afterwards.
    expect((await readdir(dir)).sort()).toEqual(['ks.json', 'sync']);
  });

  it('keeps every key when several CLI processes create keys at the same time', async () => {
    const env = { TEST_KEK: secret.kek };
    const ids = ['k1', 'k2', 'k3', 'k4'];
    const results = await Promise.all(ids.map((id) => runKeysCli(['create', id, '--keystore', path, '--kek', 'env:TEST_KEK'], { cwd: dir, env })));
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
    expect((await readKeySummaries(path, secret)).map((k) => k.keyId)).toEqual(ids);
  });
});
