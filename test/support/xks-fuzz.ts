/**
 * A black-box fuzz driver for the XKS API, shared by one small test file per provider
 * (software, SoftHSM2, PyKMIP, upstream). It talks real HTTP/1.1 to a running proxy on
 * loopback with raw request paths (node:http sends the path as given: no dot-segment
 * removal, no re-encoding, unlike fetch), signs with aws4 (independent of our signer),
 * and checks every answer against the spec's error contract. Deterministic per seed: a
 * failure names the seed and the request index, so it can be replayed.
 */
import http from 'node:http';
import { expect, it } from 'vitest';
import { b64, DEMO_PREFIX, requestMetadata, signXks } from './xks-client.ts';

/** A seeded PRNG (LCG), so a failing run is reproduced from its printed seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Members every JavaScript object has: a lookup in a plain object finds them (issue 15). */
export const INHERITED_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupSetter__',
];

/**
 * Key id families as they go on the wire (one path segment, already percent-encoded where
 * the family is about encoding). Spec externalKeyId: 1-128 of [A-Za-z0-9._-].
 */
export const KEY_ID_FAMILIES: Readonly<Record<string, readonly string[]>> = {
  inherited: INHERITED_NAMES,
  dots: ['.', '..', '...', 'foo.', '.foo', 'a.b.c', 'foo..bar'],
  long: ['k'.repeat(128), 'k'.repeat(129), 'k'.repeat(300)],
  percent: ['%2e', '%2e%2e', '%2E%2E', 'foo%00', '%00', '%2F', 'a%2Fb', '%5C', 'a%5Cb', '%25', '%zz', '%', 'foo%20bar'],
  // UTF-8 as a client would encode it, plus bytes that are not valid UTF-8 (a lone
  // surrogate, an overlong "." and a bare 0xFF).
  unicode: [...['ключ', '鍵', '🔑', 'e\u0301', '\u202e'].map((s) => encodeURIComponent(s)), '%ED%A0%80', '%C0%AE', '%FF'],
};

const WEIRD_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  '',
  ' ',
  '====',
  'AA',
  'A'.repeat(20_000),
  [],
  {},
  [1],
  { a: 1 },
  '\u0000',
  '\ud800',
  '../../etc',
  'constructor',
  '__proto__',
];

function pick<T>(list: readonly T[], rand: () => number): T {
  return list[Math.floor(rand() * list.length)] as T;
}

function mutate(value: unknown, rand: () => number, depth = 0): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < 3) {
    const obj = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(obj);
    const key = keys[Math.floor(rand() * keys.length)];
    const roll = rand();
    if (key === undefined || roll < 0.15) obj[`extra${Math.floor(rand() * 9)}`] = pick(WEIRD_VALUES, rand);
    else if (roll < 0.3) delete obj[key];
    else if (roll < 0.6) obj[key] = pick(WEIRD_VALUES, rand);
    else obj[key] = mutate(obj[key], rand, depth + 1);
    return obj;
  }
  return pick(WEIRD_VALUES, rand);
}

type Op = 'metadata' | 'encrypt' | 'decrypt';

/** A well-formed body for `op` (decrypt with a made-up ciphertext: it is refused, not served). */
function template(op: Op): Record<string, unknown> {
  switch (op) {
    case 'metadata':
      return { requestMetadata: requestMetadata('DescribeKey') };
    case 'encrypt':
      return { requestMetadata: requestMetadata('Encrypt'), plaintext: b64('fuzz'), encryptionAlgorithm: 'AES_GCM', additionalAuthenticatedData: b64('a') };
    case 'decrypt':
      return {
        requestMetadata: requestMetadata('Decrypt'),
        ciphertext: b64('c'),
        initializationVector: b64(Buffer.alloc(12)),
        authenticationTag: b64(Buffer.alloc(16)),
        encryptionAlgorithm: 'AES_GCM',
        ciphertextMetadata: b64('m'),
      };
  }
}

/** A running proxy to fuzz: its loopback port, and key ids that exist there. */
export interface FuzzTarget {
  port: number;
  /** Ids of real keys (mixed into the requests, so some calls reach the key manager's crypto). */
  knownKeyIds: readonly string[];
  prefix?: string;
}

/** One answer, raw. */
export interface RawAnswer {
  status: number;
  contentType: string;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** POSTs `body` to the raw `path` (sent exactly as given), signed by aws4. */
export function rawSignedPost(port: number, path: string, body: string): Promise<RawAnswer> {
  const host = `127.0.0.1:${port}`;
  const headers = signXks(path, body, { host });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers: { ...headers, host }, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within 10 s for ${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Statuses the spec's error table (and success) allows; 500 is excluded on purpose. */
const SPEC_STATUSES = new Set([200, 400, 401, 403, 404, 429, 501, 503]);
const SPEC_ERROR_NAMES = new Set([
  'ValidationException',
  'InvalidStateException',
  'InvalidCiphertextException',
  'InvalidKeyUsageException',
  'AuthenticationFailedException',
  'AccessDeniedException',
  'KeyNotFoundException',
  'InvalidUriPathException',
  'ThrottlingException',
  'UnsupportedOperationException',
  'DependencyTimeoutException',
]);

/** What is wrong with an answer by the spec's error contract (undefined: nothing). */
export function specViolation(a: RawAnswer): string | undefined {
  if (!SPEC_STATUSES.has(a.status)) return `status ${a.status} is not one the spec allows here`;
  if (!a.contentType.includes('application/json')) return `content-type "${a.contentType}" is not JSON`;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(a.body) as Record<string, unknown>;
  } catch {
    return 'body is not JSON';
  }
  if (a.status === 200) return undefined;
  if (typeof json.errorName !== 'string' || !SPEC_ERROR_NAMES.has(json.errorName)) return `errorName ${String(json.errorName)} is not a spec name`;
  if (typeof json.errorMessage !== 'string' || !/^[\x20-\x7e]{1,511}$/.test(json.errorMessage)) return 'errorMessage missing or not 1-511 printable ASCII';
  if (/\s+at\s+\S+\s+\(|node_modules|\.ts:\d+/.test(json.errorMessage)) return 'errorMessage holds a stack trace';
  return undefined;
}

/** The outcome of one seed. */
export interface FuzzReport {
  seed: number;
  requests: number;
  violations: string[];
  /** `family status errorName` -> count, to show the requests reached the key manager. */
  outcomes: Map<string, number>;
}

/**
 * Sends `count` signed requests derived from `seed`: half with a key id from the families
 * above (valid body), half with a mutated body (known or family key id). Returns every
 * spec violation with the seed and request index that produced it.
 */
export async function fuzzSeed(target: FuzzTarget, seed: number, count: number): Promise<FuzzReport> {
  const rand = prng(seed);
  const prefix = target.prefix ?? DEMO_PREFIX;
  const families = Object.entries(KEY_ID_FAMILIES);
  const violations: string[] = [];
  const outcomes = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const op = pick<Op>(['metadata', 'encrypt', 'decrypt'], rand);
    const [family, ids] = rand() < 0.8 ? pick(families, rand) : ['known', target.knownKeyIds];
    const keyId = pick(ids, rand);
    let body: unknown = template(op);
    if (rand() < 0.5) {
      const rounds = 1 + Math.floor(rand() * 3);
      for (let r = 0; r < rounds; r++) body = mutate(body, rand);
    }
    const text = JSON.stringify(body) ?? 'null';
    const path = `/${prefix}/kms/xks/v1/keys/${keyId}/${op}`;
    const answer = await rawSignedPost(target.port, path, text);
    const problem = specViolation(answer);
    if (problem !== undefined) violations.push(`seed ${seed} request ${i} ${op} key "${keyId}": ${problem}: ${answer.status} ${answer.body.slice(0, 200)}`);
    let errorName: string;
    try {
      const named = (JSON.parse(answer.body) as { errorName?: unknown }).errorName ?? 'ok';
      errorName = typeof named === 'string' ? named : JSON.stringify(named);
    } catch {
      errorName = 'non-json';
    }
    const outcome = `${family} ${answer.status} ${errorName}`;
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  return { seed, requests: count, violations, outcomes };
}

/** A signed GetHealthStatus: the proxy still serves after the fuzz. */
export async function healthAfterFuzz(target: FuzzTarget): Promise<RawAnswer> {
  const prefix = target.prefix ?? DEMO_PREFIX;
  const body = JSON.stringify({ requestMetadata: { kmsRequestId: 'fuzz-after', kmsOperation: 'KmsHealthCheck' } });
  return rawSignedPost(target.port, `/${prefix}/kms/xks/v1/health`, body);
}

/**
 * The seeds of a run: fixed ones (always the same coverage in CI) plus one from the clock
 * (new coverage each run), printed so a failure can be replayed with FUZZ_SEEDS=a,b,c.
 */
export function fuzzSeeds(provider: string, fixed: readonly number[]): number[] {
  const fromEnv = process.env.FUZZ_SEEDS?.split(',')
    .map((s) => Number.parseInt(s, 10))
    .filter((n) => Number.isInteger(n));
  const seeds = fromEnv !== undefined && fromEnv.length > 0 ? fromEnv : [...fixed, Date.now() % 1_000_000];
  process.stdout.write(`xks fuzz on ${provider}: seeds ${seeds.join(',')} (replay with FUZZ_SEEDS=${seeds.join(',')})\n`);
  return seeds;
}

/** Closes the driver's keep-alive sockets (call in afterAll, before the proxy closes). */
export function closeFuzzAgent(): void {
  agent.destroy();
}

/**
 * The fuzz tests of one provider: one test per seed (zero spec violations, and the key id
 * families reached the key manager: at least one inherited name got KeyNotFoundException),
 * then a health call that must still succeed.
 */
export function fuzzSuite(
  provider: string,
  target: () => FuzzTarget,
  opts: { fixedSeeds: readonly number[]; requestsPerSeed: number; timeoutMs: number },
): void {
  const seeds = fuzzSeeds(provider, opts.fixedSeeds);
  const families = new Map<string, number>();
  for (const seed of seeds) {
    it(
      `seed ${seed}: ${opts.requestsPerSeed} signed requests, every answer in the spec's error contract`,
      async () => {
        const report = await fuzzSeed(target(), seed, opts.requestsPerSeed);
        for (const [outcome, n] of report.outcomes) families.set(outcome, (families.get(outcome) ?? 0) + n);
        expect(report.violations).toEqual([]);
      },
      opts.timeoutMs,
    );
  }
  it('reached the key manager with inherited-name key ids, and the proxy still answers a health call', async () => {
    // Well-formed requests for `constructor` & co. pass validation and must be looked up (and not found).
    expect([...families.keys()].some((o) => o.startsWith('inherited 404 KeyNotFoundException'))).toBe(true);
    const health = await healthAfterFuzz(target());
    expect(health.status, health.body).toBe(200);
    expect((JSON.parse(health.body) as { ekmFleetDetails: unknown[] }).ekmFleetDetails.length).toBeGreaterThan(0);
  }, 30_000);
}
