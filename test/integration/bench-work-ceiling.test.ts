/**
 * The bench's work ceilings must really do the work they stand for (SigV4, AES-GCM on
 * node:crypto or on a real SoftHSM2 token, CDIV), or their ratios would say nothing: a
 * ceiling that skipped verification would look faster than any proxy could be.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSoftHsmBench, type SoftHsmBench } from '../../bench/fixtures/softhsm-fixture.ts';
import { startServer, type ServerProcess } from '../../bench/server-process.ts';
import { sendOverHttp, XksWorkload, type PreparedRequest, type XksTarget } from '../../bench/xks-workload.ts';
import { signRequest } from '../../src/auth/sigv4-sign.ts';

const tenant = { prefix: 'bench/ks', region: 'eu-west-3', accessKeyId: 'WORKCEILINGTESTKEYID', secret: randomBytes(32).toString('base64'), keyId: 'foo' };
const SESSIONS = 2;

describe.each(['software', 'pkcs11'] as const)('bench work ceiling server (%s)', (cipher) => {
  let server: ServerProcess;
  let hsm: SoftHsmBench | undefined;
  let target: XksTarget;
  let logDir: string | undefined;

  beforeAll(async () => {
    logDir = mkdtempSync(join(tmpdir(), 'xks-work-ceiling-'));
    let env: NodeJS.ProcessEnv = {};
    if (cipher === 'pkcs11') {
      const created = await createSoftHsmBench(logDir, 'info', SESSIONS);
      if (typeof created === 'string') throw new Error(created); // CI installs SoftHSM2: never skipped
      hsm = created;
      env = hsm.ceilingEnv;
    }
    server = await startServer({
      name: `work-ceiling-${cipher}`,
      script: 'bench/servers/work-ceiling-server.ts',
      args: ['0', tenant.region, tenant.accessKeyId, cipher, String(SESSIONS)],
      env: { ...env, XKS_BENCH_SIGV4_SECRET: tenant.secret },
      logDir,
      readyMsg: 'bench server listening',
    });
    target = { url: server.url, ...tenant };
  }, 60_000);
  afterAll(async () => {
    expect(await server?.stop()).toBe(0);
    await hsm?.cleanup();
    if (logDir !== undefined) rmSync(logDir, { recursive: true, force: true });
  });

  /** A workload whose prepare() encrypted once through the server: [encrypt, decrypt of that ciphertext]. */
  async function preparedRequests(workloadTarget: XksTarget): Promise<PreparedRequest[]> {
    const workload = new XksWorkload(workloadTarget);
    await workload.prepare();
    return workload.requests();
  }

  async function send(request: PreparedRequest) {
    const { status, text } = await sendOverHttp(new URL(request.path, server.url), request);
    return { status, body: JSON.parse(text) as Record<string, string> };
  }

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

  it(`answers more concurrent requests than it has ${SESSIONS} sessions for, and refuses a ciphertext whose tag does not verify`, async () => {
    const [encrypt, decrypt] = await preparedRequests(target);
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => send(i % 2 === 0 ? encrypt! : decrypt!)));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));

    // A decrypt whose tag was changed, signed properly: the cipher must refuse it.
    const body = JSON.parse(decrypt!.body) as Record<string, string>;
    const tag = Buffer.from(body.authenticationTag!, 'base64');
    tag[0]! ^= 1;
    const forgedBody = JSON.stringify({ ...body, authenticationTag: tag.toString('base64') });
    const url = new URL(decrypt!.path, server.url);
    const signed = signRequest({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      body: forgedBody,
      region: tenant.region,
      service: 'kms-xks-proxy',
      accessKeyId: tenant.accessKeyId,
      secret: tenant.secret,
      now: new Date(),
    });
    const refused = await send({
      method: 'POST',
      path: decrypt!.path,
      headers: { 'content-type': 'application/json', host: url.host, ...signed },
      body: forgedBody,
    });
    expect(refused.status).toBe(400);
  });
});
