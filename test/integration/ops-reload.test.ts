import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, type ServingProcess } from '../support/cli-process.ts';
import {
  createOpsDirForTest,
  DEMO_CREDENTIAL,
  DEMO_PREFIX,
  demoConfig,
  encryptBody,
  encryptCall,
  keyStoreEntry,
  logLines,
  runLoad,
  SECOND_CREDENTIAL,
  startServingForTest,
  startSlowCall,
  waitFor,
  xksPath,
} from './ops-fixture.ts';

const credA = { accessKeyId: DEMO_CREDENTIAL.accessKeyId, secretAccessKey: DEMO_CREDENTIAL.secretAccessKey, createdAt: '2026-01-01' };
const credB = { accessKeyId: SECOND_CREDENTIAL.accessKeyId, secretAccessKey: 'file:secret-b', createdAt: new Date().toISOString().slice(0, 10) };
const asB = { accessKeyId: SECOND_CREDENTIAL.accessKeyId, secretAccessKey: SECOND_CREDENTIAL.secretAccessKey };

function count(p: ServingProcess, msg: string): number {
  return logLines(p.output()).filter((l) => l.msg === msg).length;
}

async function sighupAndWait(p: ServingProcess, msg: 'config reloaded' | 'config reload rejected', before: number): Promise<Record<string, unknown>> {
  p.child.kill('SIGHUP');
  await waitFor(() => count(p, msg) > before, 15_000, msg);
  return logLines(p.output())
    .filter((l) => l.msg === msg)
    .at(-1)!;
}

describe('reload on SIGHUP', () => {
  it('adds a credential and a key store and rebuilds a changed key store under load without failing a request', async () => {
    const d = await createOpsDirForTest();
    await writeFile(join(d.dir, 'secret-b'), `${SECOND_CREDENTIAL.secretAccessKey}\n`);
    await d.writeConfig(demoConfig(d));
    const proc = await startServingForTest(['serve', '-c', d.configFile, '--workers', '1']);
    const url = proc.url;
    expect((await encryptCall(url, DEMO_PREFIX, asB)).status).toBe(401);
    expect((await encryptCall(url, 'tenant-b')).status).toBe(404);

    let stop = false;
    const load = runLoad(() => encryptCall(url), { concurrency: 6, maxRequests: 50_000, stop: () => stop });
    try {
      await waitFor(() => load.sent() > 200, 15_000, 'load to start');

      // 1: a second credential, a new key store, a limit far above the load, and a changed
      // health setting, which rebuilds the demo key store while requests are using it.
      const tenantB = await d.addKeystore('tenant-b');
      await d.writeConfig({
        ...demoConfig(d, { health: { cacheSeconds: 5 } }, { credentials: [credA, credB], rateLimit: { requestsPerSecond: 1_000_000 } }),
        keyStores: [
          keyStoreEntry(DEMO_PREFIX, d.keystorePath, d.kekHex, { credentials: [credA, credB], rateLimit: { requestsPerSecond: 1_000_000 } }),
          keyStoreEntry('tenant-b', tenantB, d.kekHex),
        ],
      });
      const applied = await sighupAndWait(proc, 'config reloaded', 0);
      expect(applied).toMatchObject({ added: ['tenant-b'], rebuilt: [DEMO_PREFIX], trigger: 'SIGHUP' });
      expect((await encryptCall(url, DEMO_PREFIX, asB)).status).toBe(200);
      expect((await encryptCall(url, 'tenant-b')).status).toBe(200);

      // 2: a config that does not validate is rejected; everything keeps serving.
      const sentBefore = load.sent();
      await writeFile(d.configFile, 'keyStores:\n  - prefix: 42\n');
      const rejected = await sighupAndWait(proc, 'config reload rejected', 0);
      expect(JSON.stringify(rejected.problems)).toContain('keyStores.0');

      // 3: a valid config whose secret file is missing is rejected too, before any change.
      await d.writeConfig(demoConfig(d, {}, { credentials: [credA, { ...credB, secretAccessKey: 'file:no-such-secret' }] }));
      const missing = await sighupAndWait(proc, 'config reload rejected', 1);
      expect(JSON.stringify(missing.problems)).toContain('no-such-secret');
      expect((await encryptCall(url, 'tenant-b')).status).toBe(200);
      await waitFor(() => load.sent() > sentBefore + 200, 15_000, 'more load after the rejected reloads');
    } finally {
      stop = true;
    }
    const result = await load.done;
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(300);
    expect(logLines(proc.output()).some((l) => l.msg === 'retired key stores closed')).toBe(true);

    // 4: retire the old credential and the extra key store.
    await d.writeConfig(demoConfig(d, {}, { credentials: [credB] }));
    const retired = await sighupAndWait(proc, 'config reloaded', 1);
    expect(retired).toMatchObject({ removed: ['tenant-b'] });
    expect((await encryptCall(url)).status).toBe(401);
    expect((await encryptCall(url, DEMO_PREFIX, asB)).status).toBe(200);
    expect((await encryptCall(url, 'tenant-b', asB)).status).toBe(404);
    expect(await proc.stop()).toBe(0);
  }, 90_000);

  it('lets a request that is in flight across a reload finish on the key store it started with', async () => {
    const d = await createOpsDirForTest();
    await d.writeConfig(demoConfig(d));
    const proc = await startServingForTest(['serve', '-c', d.configFile, '--workers', '1']);
    const slow = await startSlowCall(proc.url, xksPath(DEMO_PREFIX, 'encrypt'), encryptBody('in flight during reload'));
    // Changing the health settings rebuilds the key store: the old one is retired.
    await d.writeConfig(demoConfig(d, { health: { cacheSeconds: 7 } }));
    expect(await sighupAndWait(proc, 'config reloaded', 0)).toMatchObject({ rebuilt: [DEMO_PREFIX] });
    await new Promise((r) => setTimeout(r, 300));
    expect(logLines(proc.output()).some((l) => l.msg === 'retired key stores closed')).toBe(false);
    const answer = await slow.finish();
    expect(answer.status).toBe(200);
    expect(answer.json).toHaveProperty('ciphertext');
    await waitFor(() => logLines(proc.output()).some((l) => l.msg === 'retired key stores closed'), 5_000, 'the retired key store to close');
  }, 60_000);

  it('reloads when the config file changes if reload.watch is on', async () => {
    const d = await createOpsDirForTest();
    await writeFile(join(d.dir, 'secret-b'), SECOND_CREDENTIAL.secretAccessKey);
    const reload = { watch: true, watchIntervalMs: 200 };
    await d.writeConfig(demoConfig(d, { reload }));
    const proc = await startServingForTest(['serve', '-c', d.configFile, '--workers', '1']);
    expect((await encryptCall(proc.url, DEMO_PREFIX, asB)).status).toBe(401);
    await d.writeConfig(demoConfig(d, { reload }, { credentials: [credA, credB] }));
    await waitFor(() => count(proc, 'config reloaded') > 0, 15_000, 'the watcher to reload');
    expect(logLines(proc.output()).find((l) => l.msg === 'config reloaded')).toMatchObject({ trigger: 'config file changed', kept: [DEMO_PREFIX] });
    expect((await encryptCall(proc.url, DEMO_PREFIX, asB)).status).toBe(200);
    expect((await encryptCall(proc.url)).status).toBe(200);
  }, 60_000);

  it('reaches every worker of serve --workers 2', async () => {
    const d = await createOpsDirForTest();
    await writeFile(join(d.dir, 'secret-b'), SECOND_CREDENTIAL.secretAccessKey);
    await d.writeConfig(demoConfig(d));
    const proc = await startServingForTest(['serve', '-c', d.configFile, '--workers', '2']);
    await d.writeConfig(demoConfig(d, {}, { credentials: [credB] }));
    proc.child.kill('SIGHUP');
    await waitFor(() => count(proc, 'config reloaded') >= 2, 20_000, 'both workers to reload');
    // Connections are spread over workers; every one of these must see the new credentials.
    const answers = await Promise.all(Array.from({ length: 20 }, () => encryptCall(proc.url, DEMO_PREFIX, { ...asB, agent: undefined })));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
  }, 60_000);
});

describe('credential age', () => {
  it('credentials list shows each credential age from createdAt and never the secret', async () => {
    const d = await createOpsDirForTest();
    await writeFile(join(d.dir, 'secret-b'), SECOND_CREDENTIAL.secretAccessKey);
    await d.writeConfig(
      demoConfig(d, {}, { credentials: [credA, credB, { accessKeyId: 'NODATEKEY234567ABCDEFGHIJ', secretAccessKey: 'env:XKS_TEST_UNSET_SECRET' }] }),
    );
    const r = await runCli(['credentials', 'list', '-c', d.configFile, '--json']);
    const expectedAge = Math.floor((Date.now() - Date.parse('2026-01-01')) / 86_400_000);
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(rows).toEqual([
      expect.objectContaining({ accessKeyId: credA.accessKeyId, createdAt: '2026-01-01', ageDays: expectedAge, secretSource: 'inline', secretStatus: 'ok' }),
      expect.objectContaining({ accessKeyId: credB.accessKeyId, ageDays: 0, secretSource: 'file:secret-b', secretStatus: 'ok' }),
      expect.objectContaining({ accessKeyId: 'NODATEKEY234567ABCDEFGHIJ', secretStatus: 'environment variable XKS_TEST_UNSET_SECRET is not set' }),
    ]);
    // An unreadable secret makes the listing fail, so a cron job notices.
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain(DEMO_CREDENTIAL.secretAccessKey);
    expect(r.stdout).not.toContain(SECOND_CREDENTIAL.secretAccessKey);

    await d.writeConfig(demoConfig(d, {}, { credentials: [credA, credB] }));
    const table = await runCli(['credentials', 'list', '-c', d.configFile, '--max-age-days', '30']);
    expect(table.stdout).toMatch(new RegExp(`${credA.accessKeyId}\\s+2026-01-01\\s+${expectedAge}d`));
    expect(table.stdout).toContain(`warning: ${credA.accessKeyId}`);
    expect(table.code).toBe(expectedAge > 30 ? 1 : 0);
  }, 60_000);
});
