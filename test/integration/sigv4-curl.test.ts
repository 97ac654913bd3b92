/**
 * curl (7.88+, `--aws-sigv4`) as an independent SigV4 signer: it signs real requests to a
 * capture server on 127.0.0.1, and the proxy's verifier and signer must agree with it.
 * Note: curl 7.88 signs the path and query exactly as written (no sorting, no encoding),
 * which matches SigV4 only for paths of unreserved characters and an empty query: exactly
 * the XKS case, so that is what is tested here.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialSet } from '../../src/auth/credential-set.ts';
import { headerValue } from '../../src/auth/sigv4-canonical.ts';
import { signRequest } from '../../src/auth/sigv4-sign.ts';
import { parseAmzDate } from '../../src/auth/sigv4-time.ts';
import { verifySigV4 } from '../../src/auth/sigv4-verify.ts';
import type { SignedRequest } from '../../src/auth/sigv4-verify.ts';

const AKID = 'AKIAXKSCURLTEST23456Q';
const SECRET = 'Vn3kP8sQ1wE6rT9yU2iO5pA7sD0fG4hJ6kL8zX1cV3b=';
const REGION = 'us-east-1';
const SERVICE = 'kms-xks-proxy';
const PATH = '/store-1/kms/xks/v1/keys/curl-key-1/encrypt';
const BODY = JSON.stringify({
  requestMetadata: { awsPrincipalArn: 'arn:aws:iam::123456789012:user/Alice', kmsOperation: 'Encrypt', kmsRequestId: '4112f4d6-db54-4af4-ae30-c55a22a8dfae' },
  plaintext: 'SGVsbG8gV29ybGQh',
  encryptionAlgorithm: 'AES_GCM',
});
const credentials = new CredentialSet([{ accessKeyId: AKID, secret: SECRET }]);

const closers: Array<() => void> = [];
afterEach(() => {
  while (closers.length) closers.pop()?.();
});

/** Starts a one-request HTTP/1.1 or h2c server; resolves with its port and the captured request. */
async function captureServer(kind: 'http1' | 'h2c'): Promise<{ port: number; request: Promise<SignedRequest> }> {
  let deliver!: (r: SignedRequest) => void;
  const request = new Promise<SignedRequest>((resolve) => (deliver = resolve));
  const server =
    kind === 'http1'
      ? http.createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            const [path = '', query = ''] = (req.url ?? '').split('?');
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
            deliver({ method: req.method ?? '', path, query, headers, body: Buffer.concat(chunks) });
            res.end('{}');
          });
        })
      : http2.createServer().on('stream', (stream, h) => {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            const [path = '', query = ''] = String(h[':path']).split('?');
            const headers: Record<string, string> = {};
            // HTTP/2 has no Host header: keep the pseudo-headers out, as an app would see them.
            for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && typeof v === 'string') headers[k] = v;
            headers[':authority'] = String(h[':authority']);
            deliver({ method: String(h[':method']), path, query, headers, body: Buffer.concat(chunks) });
            stream.respond({ ':status': 200 });
            stream.end('{}');
          });
        });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return { port: (server.address() as AddressInfo).port, request };
}

/** Sends a SigV4-signed POST with curl; rejects if curl fails or takes over 10 s. */
function curlPost(url: string, opts: { secret?: string; region?: string; extra?: string[] } = {}): Promise<void> {
  const args = [
    '-sS',
    '--max-time',
    '10',
    '--aws-sigv4',
    `aws:amz:${opts.region ?? REGION}:${SERVICE}`,
    '--user',
    `${AKID}:${opts.secret ?? SECRET}`,
    '-H',
    'Content-Type: application/json',
    '--data-binary',
    BODY,
    ...(opts.extra ?? []),
    url,
  ];
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: 15_000 }, (err, _out, stderr) => (err ? reject(new Error(`curl failed: ${stderr}`)) : resolve()));
  });
}

/** The verifier's clock for a captured request: the moment curl signed it. */
const signedAt = (req: SignedRequest) => new Date(parseAmzDate(headerValue(req.headers, 'x-amz-date') ?? '') ?? NaN);
const verify = (req: SignedRequest, now = signedAt(req)) => verifySigV4(req, { region: REGION, service: SERVICE, now, credentials });

describe('SigV4 against curl --aws-sigv4', () => {
  it('accepts an XKS encrypt POST with a JSON body signed by curl', async () => {
    const { port, request } = await captureServer('http1');
    await curlPost(`http://127.0.0.1:${port}${PATH}`);
    const req = await request;
    expect(req.headers['authorization']).toContain(`Credential=${AKID}/`);
    expect(req.headers['authorization']).toContain('SignedHeaders=content-type;host;x-amz-date,');
    expect(verify(req)).toEqual({ ok: true, accessKeyId: AKID });
  });

  it('our signer produces the same Authorization as curl for the same input', async () => {
    const { port, request } = await captureServer('http1');
    const url = `http://127.0.0.1:${port}${PATH}`;
    await curlPost(url);
    const req = await request;
    const ours = signRequest({
      method: 'POST',
      url,
      headers: { 'Content-Type': 'application/json' },
      body: BODY,
      region: REGION,
      service: SERVICE,
      accessKeyId: AKID,
      secret: SECRET,
      now: signedAt(req),
    });
    expect(ours.authorization).toBe(req.headers['authorization']);
    expect(ours['x-amz-date']).toBe(req.headers['x-amz-date']);
  });

  it('rejects curl requests signed with another secret or for another region', async () => {
    const wrongSecret = await captureServer('http1');
    await curlPost(`http://127.0.0.1:${wrongSecret.port}${PATH}`, { secret: SECRET.replace('V', 'W') });
    expect(verify(await wrongSecret.request)).toMatchObject({ ok: false, reason: 'signature-mismatch' });

    const wrongRegion = await captureServer('http1');
    await curlPost(`http://127.0.0.1:${wrongRegion.port}${PATH}`, { region: 'eu-west-1' });
    expect(verify(await wrongRegion.request)).toMatchObject({ ok: false, reason: 'wrong-region' });
  });

  it('rejects a curl request replayed six minutes later', async () => {
    const { port, request } = await captureServer('http1');
    await curlPost(`http://127.0.0.1:${port}${PATH}`);
    const req = await request;
    const r = verify(req, new Date(signedAt(req).getTime() + 360_000));
    expect(r).toEqual({
      ok: false,
      reason: 'date-out-of-window',
      detail: `x-amz-date ${headerValue(req.headers, 'x-amz-date')} is 360 s in the past, outside the 300 s window`,
    });
  });

  it('accepts curl over HTTP/2 once the caller passes :authority as host', async () => {
    const { port, request } = await captureServer('h2c');
    await curlPost(`http://127.0.0.1:${port}${PATH}`, { extra: ['--http2-prior-knowledge'] });
    const { ':authority': authority, ...headers } = (await request).headers;
    const req = { ...(await request), headers };
    expect(headers['host']).toBeUndefined();
    expect(verify(req)).toMatchObject({ ok: false, reason: 'signature-mismatch' });
    expect(verify({ ...req, headers: { ...headers, host: authority } })).toEqual({ ok: true, accessKeyId: AKID });
  });
});
