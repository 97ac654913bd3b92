/**
 * The bench's work ceiling must really do the work it stands for (SigV4, AES-GCM, CDIV),
 * or its ratio to the baseline would say nothing: a ceiling that skipped verification
 * would look faster than any proxy could be.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess } from '../../bench/server-process.ts';
import { sendOverHttp, XksWorkload, type XksTarget } from '../../bench/xks-workload.ts';

const tenant = { prefix: 'bench/ks', region: 'eu-west-3', accessKeyId: 'WORKCEILINGTESTKEYID', secret: randomBytes(32).toString('base64'), keyId: 'foo' };
let server: ServerProcess;
let target: XksTarget;

beforeAll(async () => {
  server = await startServer({
    name: 'work-ceiling',
    script: 'bench/servers/work-ceiling-server.ts',
    args: ['0', tenant.region, tenant.accessKeyId],
    env: { XKS_BENCH_SIGV4_SECRET: tenant.secret },
    logDir: mkdtempSync(join(tmpdir(), 'xks-work-ceiling-')),
    readyMsg: 'bench server listening',
  });
  target = { url: server.url, ...tenant };
}, 60_000);
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

/** A workload whose prepare() encrypted once through the server: [encrypt, decrypt of that ciphertext]. */
async function preparedRequests(workloadTarget: XksTarget) {
  const workload = new XksWorkload(workloadTarget);
  await workload.prepare();
  return workload.requests();
}

async function send(request: ReturnType<XksWorkload['requests']>[number]) {
  const { status, text } = await sendOverHttp(new URL(request.path, server.url), request);
  return { status, body: JSON.parse(text) as Record<string, string> };
}

describe('bench work ceiling server', () => {
  it('encrypts with a fresh IV and a CDIV over the spec fields, and decrypts what it encrypted', async () => {
    const [encrypt, decrypt] = await preparedRequests(target);
    const { status, body } = await send(encrypt!);
    expect(status).toBe(200);
    const sent = JSON.parse(encrypt!.body) as Record<string, string>;
    const bytes = (field: string) => Buffer.from(body[field]!, 'base64');
    expect(bytes('initializationVector')).toHaveLength(12);
    expect(bytes('authenticationTag')).toHaveLength(16);
    expect(bytes('ciphertext')).toHaveLength(Buffer.from(sent.plaintext!, 'base64').length);
    expect(bytes('ciphertext').equals(Buffer.from(sent.plaintext!, 'base64'))).toBe(false);
    const cdiv = createHash('sha256')
      .update(Buffer.from(sent.additionalAuthenticatedData!, 'base64'))
      .update(bytes('ciphertextMetadata'))
      .update(bytes('initializationVector'))
      .update(bytes('ciphertext'))
      .update(bytes('authenticationTag'))
      .digest('base64');
    expect(body.ciphertextDataIntegrityValue).toBe(cdiv);

    const decrypted = await send(decrypt!);
    expect(decrypted.status).toBe(200);
    expect(decrypted.body.plaintext).toBe(sent.plaintext);
  });

  it('refuses a request signed with another secret', async () => {
    const wrongSecret = { ...target, secret: randomBytes(32).toString('base64') };
    await expect(preparedRequests(wrongSecret)).rejects.toThrow(/warm-up encrypt failed with 401: .*AuthenticationFailedException/);
  });

  it('refuses a correctly signed request whose body was changed after signing', async () => {
    const [encrypt] = await preparedRequests(target);
    const tampered = { ...encrypt!, body: encrypt!.body.replace('"AES_GCM"', '"AES_GCM" ') };
    expect(tampered.body).not.toBe(encrypt!.body);
    expect((await send(tampered)).status).toBe(401);
    expect((await send(encrypt!)).status).toBe(200);
  });
});
