/**
 * `npm run demo:nss`: the demo on NSS softoken, as a user runs it (a real process), and its
 * NSS database kept across restarts: a ciphertext made by one run decrypts in the next.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServing, type ServingProcess } from '../support/cli-process.ts';
import { DEMO_PREFIX, decryptRequestBody, encryptRequestBody, requestMetadata, signXks, xksPath, type EncryptResponseJson } from '../support/xks-client.ts';

let dataDir: string;
let proxy: ServingProcess | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'xks-demo-nss-'));
});
afterAll(async () => {
  await proxy?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const text = JSON.stringify(body);
  const res = await fetch(`${proxy!.url}${path}`, { method: 'POST', headers: signXks(path, text, { host: new URL(proxy!.url).host }), body: text });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

describe('npm run demo:nss', () => {
  let ciphertext: EncryptResponseJson;

  it('serves the four test-client keys from an NSS database under the data dir', async () => {
    proxy = await startServing(['demo', '--provider', 'nss', '--port', '0', '--data-dir', dataDir], {}, 60_000);
    expect(await readdir(join(dataDir, 'nss'))).toEqual(expect.arrayContaining(['cert9.db', 'key4.db']));
    const health = await post(xksPath(DEMO_PREFIX, 'health'), { requestMetadata: { kmsRequestId: '1', kmsOperation: 'KmsHealthCheck' } });
    expect(health.json.ekmFleetDetails).toEqual([{ id: 'nss', model: expect.stringContaining('Mozilla Foundation'), healthStatus: 'ACTIVE' }]);
    const usages: Record<string, string[]> = {};
    for (const key of ['foo', 'encrypt_only_key', 'decrypt_only_key', 'impotent_key']) {
      usages[key] = (await post(xksPath(DEMO_PREFIX, 'metadata', key), { requestMetadata: requestMetadata('DescribeKey') })).json.keyUsage;
    }
    expect(usages).toEqual({ foo: ['ENCRYPT', 'DECRYPT'], encrypt_only_key: ['ENCRYPT'], decrypt_only_key: ['DECRYPT'], impotent_key: [] });
    const enc = await post(xksPath(DEMO_PREFIX, 'encrypt'), encryptRequestBody('kept across restarts'));
    expect(enc.status).toBe(200);
    ciphertext = enc.json;
    expect(await proxy.stop()).toBe(0);
  }, 90_000);

  it('decrypts in the next run what the previous run encrypted', async () => {
    proxy = await startServing(['demo', '--provider', 'nss', '--port', '0', '--data-dir', dataDir], {}, 60_000);
    const dec = await post(xksPath(DEMO_PREFIX, 'decrypt'), decryptRequestBody(ciphertext));
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.json.plaintext as string, 'base64').toString()).toBe('kept across restarts');
    expect(await proxy.stop()).toBe(0);
    proxy = undefined;
  }, 90_000);
});
