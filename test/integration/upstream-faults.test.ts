/**
 * The upstream key store against misbehaving upstreams: tiny node:http servers on
 * 127.0.0.1 that hang, answer slowly, send garbage or spec errors. KMS must always get a
 * spec error within the request budget, and the proxy must keep serving.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { upstreamProviderConfigSchema } from '../../src/providers/upstream/upstream-config.ts';
import type { KeyStore } from '../../src/xks/key-store.ts';
import { createUpstreamFront } from '../support/upstream-front.ts';
import { b64, DEMO_CREDENTIAL, DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

const UPSTREAM_AKID = 'UPSTREAMACCESSKEYIDABCDE2345';
const UPSTREAM_SECRET = randomBytes(36).toString('base64');

type Handler = (req: IncomingMessage, res: ServerResponse, body: Record<string, any> | undefined) => void;

/** What a fake upstream saw of one request. */
interface ReceivedRequest {
  path: string;
  authorization: string | undefined;
  closedEarly: boolean;
  body?: Record<string, any>;
}

/** A scripted upstream: counts connections and requests, answers with `handler`. */
class FakeUpstream {
  connections = 0;
  requests: ReceivedRequest[] = [];
  handler: Handler = answerLikeAnXksProxy;
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      const record: ReceivedRequest = { path: req.url ?? '', authorization: req.headers.authorization, closedEarly: false };
      this.requests.push(record);
      res.on('close', () => {
        if (!res.writableEnded) record.closedEarly = true;
      });
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (raw += c));
      req.on('end', () => {
        let body: Record<string, any> | undefined;
        try {
          body = JSON.parse(raw) as Record<string, any>;
        } catch {
          body = undefined;
        }
        if (body !== undefined) record.body = body;
        this.handler(req, res, body);
      });
    });
    this.#server.on('connection', () => this.connections++);
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  reset(handler: Handler = answerLikeAnXksProxy): void {
    this.handler = handler;
    this.requests = [];
    this.connections = 0;
    this.#server.closeAllConnections();
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Well-formed answers of the right shape (not real crypto): enough for the front's checks. */
function answerLikeAnXksProxy(req: IncomingMessage, res: ServerResponse, body: Record<string, any> | undefined): void {
  const op = (req.url ?? '').split('/').at(-1);
  if (op === 'health') {
    sendJson(res, 200, {
      xksProxyFleetSize: 1,
      xksProxyVendor: 'fake',
      xksProxyModel: 'fake 1',
      ekmVendor: 'Fake EKM',
      ekmFleetDetails: [{ id: 'hsm-1', model: 'fake', healthStatus: 'ACTIVE' }],
    });
  } else if (op === 'metadata') {
    sendJson(res, 200, { keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT'], keyStatus: 'ENABLED' });
  } else if (op === 'encrypt') {
    const length = Buffer.from(String(body?.plaintext), 'base64').length;
    sendJson(res, 200, { ciphertext: b64(randomBytes(length)), initializationVector: b64(randomBytes(12)), authenticationTag: b64(randomBytes(16)) });
  } else {
    sendJson(res, 200, { plaintext: b64(Buffer.alloc(Buffer.from(String(body?.ciphertext), 'base64').length, 0x61)) });
  }
}

const fronts: KeyStore[] = [];
const a = new FakeUpstream();
const b = new FakeUpstream();

beforeAll(async () => {
  await Promise.all([a.start(), b.start()]);
});
afterEach(() => {
  a.reset();
  b.reset();
});
afterAll(async () => {
  await Promise.allSettled(fronts.map((ks) => ks.close()));
  await Promise.all([a.stop(), b.stop()]);
});

/** An in-process front proxy whose key store forwards to the given endpoints. */
function front(endpoints: FakeUpstream[], opts: { requestTimeoutMs?: number; provider?: Record<string, unknown> } = {}): Hono {
  const config = upstreamProviderConfigSchema.parse({
    type: 'upstream',
    endpoints: endpoints.map((e) => ({ url: e.url, id: e === a ? 'a' : 'b' })),
    uriPrefix: 'vendor',
    credential: { accessKeyId: UPSTREAM_AKID, secretAccessKey: UPSTREAM_SECRET },
    ...opts.provider,
  });
  const { app, keyStore } = createUpstreamFront(config, { configDir: '/', requestTimeoutMs: opts.requestTimeoutMs ?? 1_000 });
  fronts.push(keyStore);
  return app;
}

async function call(app: Hono, op: 'health' | 'metadata' | 'encrypt' | 'decrypt') {
  const bodies = {
    health: { requestMetadata: { kmsRequestId: 'h', kmsOperation: 'KmsHealthCheck' } },
    metadata: { requestMetadata: requestMetadata('DescribeKey') },
    encrypt: { requestMetadata: requestMetadata('Encrypt'), plaintext: b64('hello'), encryptionAlgorithm: 'AES_GCM' },
    decrypt: {
      requestMetadata: requestMetadata('Decrypt'),
      ciphertext: b64('hello'),
      initializationVector: b64(randomBytes(12)),
      authenticationTag: b64(randomBytes(16)),
      encryptionAlgorithm: 'AES_GCM',
    },
  };
  const path = xksPath(DEMO_PREFIX, op);
  const text = JSON.stringify(bodies[op]);
  const started = performance.now();
  const res = await app.request(path, { method: 'POST', headers: signXks(path, text), body: text });
  return { status: res.status, json: (await res.json()) as Record<string, any>, ms: performance.now() - started };
}

const hang: Handler = () => undefined;

describe('a slow upstream', () => {
  it('answers DependencyTimeoutException within the budget and drops the hung request', async () => {
    a.reset(hang);
    const app = front([a], { requestTimeoutMs: 300 });
    const { status, json, ms } = await call(app, 'encrypt');
    expect([status, json.errorName]).toEqual([503, 'DependencyTimeoutException']);
    expect(ms).toBeLessThan(450);
    await expect.poll(() => a.requests[0]?.closedEarly, { timeout: 1_000 }).toBe(true);
  });

  it('answers DependencyTimeoutException when the headers come but the body stalls', async () => {
    a.reset((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"plain');
    });
    const app = front([a], { requestTimeoutMs: 300 });
    const { status, json, ms } = await call(app, 'decrypt');
    expect([status, json.errorName]).toEqual([503, 'DependencyTimeoutException']);
    expect(ms).toBeLessThan(450);
  });

  it('reports a hung upstream UNAVAILABLE in health within the budget', async () => {
    a.reset(hang);
    const app = front([a], { requestTimeoutMs: 300 });
    const { status, json, ms } = await call(app, 'health');
    expect(status).toBe(200);
    expect(json.ekmFleetDetails).toEqual([{ id: 'a', model: 'upstream XKS proxy', healthStatus: 'UNAVAILABLE' }]);
    expect(ms).toBeLessThan(450);
  });

  it('fails over to the next endpoint after attemptTimeoutMs, inside the budget', async () => {
    a.reset(hang);
    const app = front([a, b], { requestTimeoutMs: 400, provider: { attemptTimeoutMs: 100 } });
    const { status, ms } = await call(app, 'encrypt');
    expect(status).toBe(200);
    expect(ms).toBeLessThan(400);
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(1);
  });
});

describe('an upstream that answers garbage', () => {
  const garbage: Array<[string, Handler]> = [
    ['a 200 that is not JSON', (_q, res) => res.end('this is not json')],
    [
      'a 500 HTML page',
      (_q, res) => {
        res.writeHead(500, { 'content-type': 'text/html' });
        res.end('<html><body>Internal Server Error</body></html>');
      },
    ],
    ['a 502 JSON without a spec errorName', (_q, res) => sendJson(res, 502, { errorName: 'BadGateway', errorMessage: 'nope' })],
    ['a JSON array', (_q, res) => sendJson(res, 200, [1, 2, 3])],
    [
      'a 15-byte tag',
      (_q, res, body) =>
        sendJson(res, 200, { ciphertext: body?.plaintext, initializationVector: b64(randomBytes(12)), authenticationTag: b64(randomBytes(15)) }),
    ],
    [
      'a ciphertext longer than the plaintext',
      (_q, res) =>
        sendJson(res, 200, { ciphertext: b64(randomBytes(99)), initializationVector: b64(randomBytes(12)), authenticationTag: b64(randomBytes(16)) }),
    ],
    [
      'fields that are not Base64',
      (_q, res) => sendJson(res, 200, { ciphertext: '*****', initializationVector: b64(randomBytes(12)), authenticationTag: b64(randomBytes(16)) }),
    ],
    [
      'a connection closed halfway through the body',
      (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
        res.write('{"ciphertext":"', () => req.socket.destroy());
      },
    ],
    ['a body larger than maxResponseBytes', (_q, res) => sendJson(res, 200, { ciphertext: 'A'.repeat(200_000) })],
  ];

  it.each(garbage)('answers InternalException for %s', async (_name, handler) => {
    a.reset(handler);
    const app = front([a]);
    const { status, json } = await call(app, 'encrypt');
    expect([status, json.errorName]).toEqual([500, 'InternalException']);
    // The same front keeps working once the upstream behaves.
    a.handler = answerLikeAnXksProxy;
    expect((await call(app, 'encrypt')).status).toBe(200);
  });

  it('answers InternalException when the CDIV does not match the returned fields', async () => {
    a.reset((_q, res, body) =>
      sendJson(res, 200, {
        ciphertext: body?.plaintext,
        initializationVector: b64(randomBytes(12)),
        authenticationTag: b64(randomBytes(16)),
        ciphertextDataIntegrityValue: b64(randomBytes(32)),
      }),
    );
    const app = front([a]);
    const path = xksPath(DEMO_PREFIX, 'encrypt');
    const text = JSON.stringify({
      requestMetadata: requestMetadata('Encrypt'),
      plaintext: b64('hi'),
      encryptionAlgorithm: 'AES_GCM',
      ciphertextDataIntegrityValueAlgorithm: 'SHA_256',
    });
    const res = await app.request(path, { method: 'POST', headers: signXks(path, text), body: text });
    expect([res.status, ((await res.json()) as { errorName: string }).errorName]).toEqual([500, 'InternalException']);
  });

  it('reports an upstream with a malformed health answer UNAVAILABLE', async () => {
    a.reset((_q, res) => sendJson(res, 200, { ekmFleetDetails: [{ id: 'x', model: 'y', healthStatus: 'SORT_OF_OK' }] }));
    const { json: health } = await call(front([a]), 'health');
    expect(health.ekmFleetDetails).toEqual([{ id: 'a', model: 'upstream XKS proxy', healthStatus: 'UNAVAILABLE' }]);
  });
});

describe('spec errors from the upstream and failover', () => {
  it('passes the upstream DependencyTimeoutException through as 503', async () => {
    a.reset((_q, res) => sendJson(res, 503, { errorName: 'DependencyTimeoutException', errorMessage: 'HSM slow' }));
    const { status, json } = await call(front([a]), 'encrypt');
    expect([status, json.errorName, json.errorMessage]).toEqual([503, 'DependencyTimeoutException', 'HSM slow']);
  });

  it('fails over on an upstream InternalException and then prefers the healthy endpoint', async () => {
    a.reset((_q, res) => sendJson(res, 500, { errorName: 'InternalException' }));
    const app = front([a, b]);
    expect((await call(app, 'encrypt')).status).toBe(200);
    expect((await call(app, 'encrypt')).status).toBe(200);
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(2);
  });

  it.each([
    ['InvalidCiphertextException', 400],
    ['ValidationException', 400],
    ['InvalidStateException', 400],
    ['AccessDeniedException', 403],
    ['KeyNotFoundException', 404],
    ['ThrottlingException', 429],
    ['UnsupportedOperationException', 501],
  ])('passes %s through with status %i and never fails over on it', async (errorName, status) => {
    a.reset((_q, res) => sendJson(res, status, { errorName, errorMessage: `upstream says ${errorName}` }));
    const { status: got, json: body } = await call(front([a, b]), 'decrypt');
    expect([got, body.errorName, body.errorMessage]).toEqual([status, errorName, `upstream says ${errorName}`]);
    expect(b.requests).toHaveLength(0);
  });

  it('answers InternalException when every endpoint fails without a timeout', async () => {
    a.reset((_q, res) => sendJson(res, 500, { errorName: 'InternalException' }));
    b.reset((_q, res) => res.end('garbage'));
    const { status, json } = await call(front([a, b]), 'metadata');
    expect([status, json.errorName]).toEqual([500, 'InternalException']);
  });
});

describe('connections and signing', () => {
  it('reuses keep-alive connections instead of connecting per call', async () => {
    const app = front([a]);
    for (let i = 0; i < 30; i++) expect((await call(app, 'encrypt')).status).toBe(200);
    expect(a.requests).toHaveLength(30);
    // undici may open a second socket while the first finishes its response; never one per call.
    expect(a.connections).toBeLessThanOrEqual(3);
  });

  it("signs with the upstream credential, never forwarding the caller's signature", async () => {
    await call(front([a]), 'metadata');
    const auth = a.requests[0]?.authorization ?? '';
    expect(auth).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${UPSTREAM_AKID}/\\d{8}/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64}$`,
      ),
    );
    expect(auth).not.toContain(DEMO_CREDENTIAL.accessKeyId);
  });

  it('sends the upstream URI prefix and the mapped key id', async () => {
    await call(front([a], { provider: { keyIdMap: { foo: 'vendor-key-7' } } }), 'metadata');
    expect(a.requests[0]?.path).toBe('/vendor/kms/xks/v1/keys/vendor-key-7/metadata');
  });

  it('forwards the kmsRequestId of the health call that starts a check', async () => {
    await call(front([a]), 'health');
    expect(a.requests[0]?.body?.requestMetadata).toEqual({ kmsRequestId: 'h', kmsOperation: 'KmsHealthCheck' });
  });

  it('cuts ekmFleetDetails to 10 entries across upstreams', async () => {
    const many: Handler = (_q, res) =>
      sendJson(res, 200, {
        ekmVendor: 'Fake EKM',
        ekmFleetDetails: Array.from({ length: 7 }, (_, i) => ({ id: `hsm-${i}`, model: 'fake', healthStatus: 'ACTIVE' })),
      });
    a.reset(many);
    b.reset(many);
    const { json: health } = await call(front([a, b]), 'health');
    expect(health.ekmFleetDetails).toHaveLength(10);
    expect(health.ekmFleetDetails[0].id).toBe('a/hsm-0');
    expect(health.ekmFleetDetails[9].id).toBe('b/hsm-2');
    expect(health.ekmVendor).toBe('Fake EKM');
  });
});
