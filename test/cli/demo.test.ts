import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServing, type ServingProcess } from '../support/cli-process.ts';
import { DEMO_CREDENTIAL, DEMO_PREFIX, requestMetadata, xksPath } from '../support/xks-client.ts';

const run = promisify(execFile);
let dataDir: string;
let proxy: ServingProcess;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'xks-demo-'));
  proxy = await startServing(['demo', '--port', '0', '--data-dir', dataDir]);
}, 60_000);
afterAll(async () => {
  await proxy?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** Sends a request signed by curl's own SigV4 implementation. */
async function curlPost(path: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const { stdout } = await run('curl', [
    '--silent',
    '--show-error',
    '--write-out',
    '\n%{http_code}',
    '--aws-sigv4',
    'aws:amz:us-east-1:kms-xks-proxy',
    '--user',
    `${DEMO_CREDENTIAL.accessKeyId}:${DEMO_CREDENTIAL.secretAccessKey}`,
    '-H',
    'Content-Type: application/json',
    '--data-binary',
    JSON.stringify(body),
    `${proxy.url}${path}`,
  ]);
  const lines = stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, json: JSON.parse(lines.join('\n')) };
}

describe('npm start (xks-proxy demo)', () => {
  it('prints a loud warning that the credentials are public', () => {
    expect(proxy.output()).toMatch(/DEMO MODE.*PUBLIC/s);
  });

  it('creates the demo keystore with mode 0600 in the data dir', async () => {
    const s = await stat(join(dataDir, 'demo', 'keystore.json'));
    expect(s.mode & 0o777).toBe(0o600);
  });

  it('answers GetHealthStatus signed by curl --aws-sigv4', async () => {
    const { status, json } = await curlPost(xksPath(DEMO_PREFIX, 'health'), { requestMetadata: { kmsRequestId: '1', kmsOperation: 'KmsHealthCheck' } });
    expect(status).toBe(200);
    expect(json.ekmFleetDetails[0].healthStatus).toBe('ACTIVE');
  });

  it('round-trips encrypt and decrypt with curl-signed requests', async () => {
    const aad = Buffer.from('context').toString('base64');
    const enc = await curlPost(xksPath(DEMO_PREFIX, 'encrypt'), {
      requestMetadata: requestMetadata('Encrypt'),
      plaintext: Buffer.from('hello demo').toString('base64'),
      encryptionAlgorithm: 'AES_GCM',
      additionalAuthenticatedData: aad,
    });
    expect(enc.status).toBe(200);
    const dec = await curlPost(xksPath(DEMO_PREFIX, 'decrypt'), {
      requestMetadata: requestMetadata('Decrypt'),
      encryptionAlgorithm: 'AES_GCM',
      additionalAuthenticatedData: aad,
      ciphertext: enc.json.ciphertext,
      ciphertextMetadata: enc.json.ciphertextMetadata,
      initializationVector: enc.json.initializationVector,
      authenticationTag: enc.json.authenticationTag,
    });
    expect(Buffer.from(dec.json.plaintext, 'base64').toString()).toBe('hello demo');
  });

  it('has the four test-client keys with their usages', async () => {
    const usages: Record<string, string[]> = {};
    for (const key of ['foo', 'encrypt_only_key', 'decrypt_only_key', 'impotent_key']) {
      usages[key] = (await curlPost(xksPath(DEMO_PREFIX, 'metadata', key), { requestMetadata: requestMetadata('DescribeKey') })).json.keyUsage;
    }
    expect(usages).toEqual({ foo: ['ENCRYPT', 'DECRYPT'], encrypt_only_key: ['ENCRYPT'], decrypt_only_key: ['DECRYPT'], impotent_key: [] });
  });

  it('exits 0 on SIGTERM', async () => {
    expect(await proxy.stop()).toBe(0);
  });
});
