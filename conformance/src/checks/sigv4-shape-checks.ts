/**
 * Every shape of a bad SigV4 Authorization gets 401 AuthenticationFailedException as JSON,
 * and the server keeps answering (spec Authentication; Appendix A). Each malformed request
 * is made by the harness's raw signer (sigv4-raw.ts) with a correct HMAC over whatever it
 * claims, so it differs from a valid request in one respect only. Each check first sends
 * the unaltered request (it must get 200, or the refusals prove nothing), and after every
 * malformed request a valid health call must still get 200: a verifier that compares
 * digests of different lengths can throw, and a server that then answers 500 or dies
 * fails here.
 */
import { describeAnswer, expectError, expectSuccess } from '../expect-answer.ts';
import type { CheckDefinition } from '../check.ts';
import { fail } from '../check.ts';
import type { HttpAnswer, HttpRequest } from '../http-client.ts';
import { decryptBody, encryptBody, healthMetadata, requestMetadata } from '../request-bodies.ts';
import { XKS_SERVICE, amzDate } from '../sign-request.ts';
import { formatAuthorization, rawSignature } from '../sigv4-raw.ts';
import type { AuthComponents } from '../sigv4-raw.ts';
import type { XksClient, XksOperation } from '../xks-client.ts';

const GROUP = 'sigv4';
const SPEC = 'Authentication; Appendix A';
const DAY_MS = 86_400_000;

/** How one request departs from a valid one. Everything not named is signed correctly. */
export interface Malformation {
  /** X-Amz-Date header value (default: now, well-formed). The HMAC covers it as sent. */
  amzDate?: string;
  /** Rewrites the scope parts [date, region, service, terminator]; the HMAC chain follows. */
  scope?: (valid: string[]) => string[];
  /** Access key id in Credential (default: the configured one). */
  accessKeyId?: string;
  /** Lower-case header names to sign (default host;x-amz-date, as KMS signs). */
  signedHeaders?: string[];
  /** Rewrites the name=value components after signing. */
  components?: (valid: AuthComponents) => AuthComponents;
  /** Algorithm name before the components (default AWS4-HMAC-SHA256). */
  algorithm?: string;
  /** Rewrites the whole header; several values are sent as several header lines. */
  authorization?: (valid: string) => string | string[];
}

type Case = [label: string, change: Malformation];

/** A GetKeyMetadata request for the main key, signed as `m` says. */
export function malformedRequest(client: XksClient, m: Malformation, now = new Date()): HttpRequest {
  const o = client.options;
  const path = client.path('metadata');
  const body = JSON.stringify({ requestMetadata: requestMetadata('DescribeKey') });
  const xAmzDate = m.amzDate ?? amzDate(now);
  // The scope date follows X-Amz-Date when that starts with a date, so only the intended part is wrong.
  const day = /^\d{8}/.test(xAmzDate) ? xAmzDate.slice(0, 8) : amzDate(now).slice(0, 8);
  const scope = (m.scope ?? ((s) => s))([day, o.region, XKS_SERVICE, 'aws4_request']);
  const headers: Record<string, string> = { host: client.http.host, 'x-amz-date': xAmzDate, 'content-type': 'application/json' };
  const signedHeaders = m.signedHeaders ?? ['host', 'x-amz-date'];
  const signature = rawSignature({ method: 'POST', path, body, headers, signedHeaders, amzDate: xAmzDate, scope, secretAccessKey: o.secretAccessKey });
  const components: AuthComponents = [
    ['Credential', [m.accessKeyId ?? o.accessKeyId, ...scope].join('/')],
    ['SignedHeaders', signedHeaders.join(';')],
    ['Signature', signature],
  ];
  const valid = formatAuthorization((m.components ?? ((c) => c))(components), m.algorithm);
  const authorization = m.authorization ? m.authorization(valid) : valid;
  return { method: 'POST', path, headers: { ...headers, authorization }, body };
}

function networkError(e: unknown): string {
  const err = e as Error & { code?: string; cause?: { code?: string } };
  return [err.code ?? err.name, err.cause?.code, err.message.split('\n')[0]].filter(Boolean).join(' ');
}

/** Sends a request; a failed connection fails the check (a crash is not an answer). */
async function send(client: XksClient, req: HttpRequest, label: string): Promise<HttpAnswer> {
  try {
    return await client.http.send(req);
  } catch (e) {
    return fail(`${label}: no HTTP answer (${networkError(e)}); the server crashed or dropped the connection`);
  }
}

/** A valid health call right after `label` must still get 200. */
export async function expectAlive(client: XksClient, label: string): Promise<void> {
  let a: HttpAnswer;
  try {
    a = await client.health();
  } catch (e) {
    return fail(`after ${label}, the server stopped answering (${networkError(e)})`);
  }
  if (a.status !== 200) fail(`after ${label}, a valid health call got ${describeAnswer(a)}`);
}

/** Sends the unaltered request: the harness's own signing must be accepted first. */
async function baseline(client: XksClient): Promise<void> {
  const a = await send(client, malformedRequest(client, {}), 'the unaltered request');
  if (a.status !== 200) fail(`the harness's correctly signed request was refused (${describeAnswer(a)}), so its refusals would prove nothing`);
}

/** A check that every case is refused with 401 AuthenticationFailedException and the server lives on. */
function shapes(id: string, title: string, cases: (client: XksClient) => Case[], spec = SPEC): CheckDefinition {
  return {
    id: `sigv4.${id}`,
    group: GROUP,
    title,
    spec,
    level: 'MUST',
    async run({ client }) {
      await baseline(client);
      const all = cases(client);
      for (const [label, change] of all) {
        const a = await send(client, malformedRequest(client, change), label);
        expectError(a, ['AuthenticationFailedException'], label);
        await expectAlive(client, label);
      }
      return `${all.length} malformed requests refused with 401, server alive after each`;
    },
  };
}

/** Replaces the value of component `name`. */
function setComponent(name: string, value: (v: string) => string): (c: AuthComponents) => AuthComponents {
  return (c) => c.map(([n, v]) => [n, n === name ? value(v) : v]);
}

function without(name: string): (c: AuthComponents) => AuthComponents {
  return (c) => c.filter(([n]) => n !== name);
}

function repeated(name: string, first?: string): (c: AuthComponents) => AuthComponents {
  return (c) => {
    const entry = c.find(([n]) => n === name)!;
    return [...c.filter(([n]) => n !== name), [name, first ?? entry[1]], entry];
  };
}

function scopeDay(offsetDays: number): (s: string[]) => string[] {
  return ([d, ...rest]) => {
    const t = Date.UTC(Number(d!.slice(0, 4)), Number(d!.slice(4, 6)) - 1, Number(d!.slice(6, 8))) + offsetDays * DAY_MS;
    return [new Date(t).toISOString().slice(0, 10).replace(/-/g, ''), ...rest];
  };
}

function replaceAt(i: number, value: string): (s: string[]) => string[] {
  return (s) => s.map((p, j) => (j === i ? value : p));
}

function otherRegion(region: string): string {
  return region === 'us-west-2' ? 'eu-west-1' : 'us-west-2';
}

/** Now in ISO 8601 with separators and whole seconds (2026-01-02T03:04:05Z): not the X-Amz-Date format. */
function isoNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Every shape of bad signature, grouped by what is wrong. */
export const sigv4ShapeChecks: CheckDefinition[] = [
  shapes('signature-length', 'a Signature shorter (63, 32 hex digits), longer (66, 128) or empty is answered 401 and the server stays up', () => [
    ['Signature one hex digit short', { components: setComponent('Signature', (s) => s.slice(0, -1)) }],
    ['Signature of 32 hex digits', { components: setComponent('Signature', (s) => s.slice(0, 32)) }],
    ['Signature one byte too long', { components: setComponent('Signature', (s) => `${s}00`) }],
    ['Signature of 128 hex digits', { components: setComponent('Signature', (s) => s + s) }],
    ['empty Signature', { components: setComponent('Signature', () => '') }],
  ]),
  shapes('signature-encoding', 'a Signature that is not lower-case hex (non-hex characters, upper-case hex, Base64) is answered 401', () => [
    ['Signature of 64 characters, 8 of them not hex', { components: setComponent('Signature', (s) => `ghijklmn${s.slice(8)}`) }],
    ['the correct Signature in upper-case hex', { components: setComponent('Signature', (s) => s.toUpperCase()) }],
    ['the correct Signature bytes in Base64', { components: setComponent('Signature', (s) => Buffer.from(s, 'hex').toString('base64')) }],
  ]),
  shapes('component-missing', 'an Authorization without Credential, SignedHeaders or Signature is answered 401', () => [
    ['Authorization without Credential', { components: without('Credential') }],
    ['Authorization without SignedHeaders', { components: without('SignedHeaders') }],
    ['Authorization without Signature', { components: without('Signature') }],
    ['Authorization with the algorithm name only', { components: () => [] }],
  ]),
  shapes('component-repeated', 'an Authorization with Credential, SignedHeaders or Signature twice is answered 401 (also when one copy is right)', () => [
    ['Credential twice (same value)', { components: repeated('Credential') }],
    ['SignedHeaders twice (same value)', { components: repeated('SignedHeaders') }],
    ['Signature twice (same value)', { components: repeated('Signature') }],
    [
      'a wrong Credential, then the right one',
      { components: repeated('Credential', 'CONFORMANCEUNKNOWNKEY234/20000101/us-east-1/kms-xks-proxy/aws4_request') },
    ],
    ['a zero Signature, then the right one', { components: repeated('Signature', '0'.repeat(64)) }],
  ]),
  {
    id: 'sigv4.component-order',
    group: GROUP,
    title: 'components out of order: with a wrong signature 401; with a right one 200 or 401 (AWS accepts any order), never a 500',
    spec: SPEC,
    level: 'MUST',
    async run({ client }) {
      await baseline(client);
      const reorder =
        (sig?: string) =>
        (c: AuthComponents): AuthComponents => {
          const get = (n: string) => c.find(([x]) => x === n)![1];
          return [
            ['Signature', sig ?? get('Signature')],
            ['Credential', get('Credential')],
            ['SignedHeaders', get('SignedHeaders')],
          ];
        };
      const wrongLabel = 'Signature, Credential, SignedHeaders with a wrong signature';
      const wrong = await send(client, malformedRequest(client, { components: reorder('f'.repeat(64)) }), wrongLabel);
      expectError(wrong, ['AuthenticationFailedException'], wrongLabel);
      await expectAlive(client, wrongLabel);
      const rightLabel = 'Signature, Credential, SignedHeaders with the right signature';
      const right = await send(client, malformedRequest(client, { components: reorder() }), rightLabel);
      const outcome =
        right.status === 200
          ? (expectSuccess(right, rightLabel), 'accepted')
          : (expectError(right, ['AuthenticationFailedException'], `${rightLabel} (200 also acceptable)`), 'refused with 401');
      await expectAlive(client, rightLabel);
      return `reordered with the right signature: ${outcome}`;
    },
  },
  shapes('scope-date', "a credential scope date other than X-Amz-Date's (HMAC over that scope) or not yyyymmdd is answered 401", () => [
    ['scope date one day before X-Amz-Date', { scope: scopeDay(-1) }],
    ['scope date one day after X-Amz-Date', { scope: scopeDay(1) }],
    ['scope date written with dashes', { scope: ([d, ...r]) => [`${d!.slice(0, 4)}-${d!.slice(4, 6)}-${d!.slice(6)}`, ...r] }],
    ['empty scope date', { scope: replaceAt(0, '') }],
  ]),
  shapes('wrong-region', 'a credential scope region other than the configured one (HMAC over it) is answered 401', (c) => [
    [`region ${otherRegion(c.options.region)}`, { scope: replaceAt(1, otherRegion(c.options.region)) }],
    ['the region in upper case', { scope: replaceAt(1, c.options.region.toUpperCase()) }],
    ['empty region', { scope: replaceAt(1, '') }],
  ]),
  shapes('wrong-service', 'a credential scope service other than kms-xks-proxy (HMAC over it) is answered 401', () => [
    ['service kms', { scope: replaceAt(2, 'kms') }],
    ['service KMS-XKS-PROXY', { scope: replaceAt(2, 'KMS-XKS-PROXY') }],
    ['empty service', { scope: replaceAt(2, '') }],
  ]),
  shapes('scope-terminator', 'a credential scope not ending in exactly one aws4_request is answered 401', () => [
    ['terminator AWS4_REQUEST', { scope: replaceAt(3, 'AWS4_REQUEST') }],
    ['terminator aws4_request2', { scope: replaceAt(3, 'aws4_request2') }],
    ['no terminator (four-part Credential)', { scope: (s) => s.slice(0, 3) }],
    ['a part after aws4_request', { scope: (s) => [...s, 'extra'] }],
  ]),
  shapes('signed-headers-required', 'SignedHeaders without host or without x-amz-date (HMAC over what it lists) is answered 401', () => [
    ['SignedHeaders=x-amz-date (host not signed)', { signedHeaders: ['x-amz-date'] }],
    ['SignedHeaders=host (x-amz-date not signed)', { signedHeaders: ['host'] }],
    ['SignedHeaders=content-type', { signedHeaders: ['content-type'] }],
  ]),
  shapes('unknown-access-key-id', 'an unknown access key id (also one outside A-Z2-7, as the AWS client sends) is answered 401, not 400 or 404', (c) => [
    ['access key id CONFORMANCEUNKNOWNKEY234', { accessKeyId: 'CONFORMANCEUNKNOWNKEY234' }],
    ['access key id "Invalid" + the configured one (the AWS test client)', { accessKeyId: `Invalid${c.options.accessKeyId}` }],
    ['the configured access key id in lower case', { accessKeyId: c.options.accessKeyId.toLowerCase() }],
    ['the configured access key id with one more character', { accessKeyId: `${c.options.accessKeyId}A` }],
    ['empty access key id', { accessKeyId: '' }],
  ]),
  shapes('malformed-date', 'an X-Amz-Date that is not YYYYMMDDTHHMMSSZ (HMAC over it) is answered 401', () => [
    ['X-Amz-Date in ISO 8601 with separators', { amzDate: isoNow() }],
    ['X-Amz-Date without the Z', { amzDate: isoNow().replace(/[-:]/g, '').slice(0, -1) }],
    ['X-Amz-Date as an HTTP date', { amzDate: new Date().toUTCString() }],
    ['X-Amz-Date of month 13', { amzDate: `${new Date().getUTCFullYear()}1301T000000Z` }],
    ['X-Amz-Date of February 30', { amzDate: `${new Date().getUTCFullYear()}0230T000000Z` }],
    ['X-Amz-Date as Unix seconds', { amzDate: String(Math.floor(Date.now() / 1000)) }],
    ['empty X-Amz-Date', { amzDate: '' }],
  ]),
  shapes('algorithm', 'an Authorization naming another algorithm (or none) is answered 401', () => [
    ['algorithm AWS4-HMAC-SHA512', { algorithm: 'AWS4-HMAC-SHA512' }],
    ['algorithm aws4-hmac-sha256 (lower case)', { algorithm: 'aws4-hmac-sha256' }],
    ['algorithm AWS4-ECDSA-P256-SHA256 (SigV4a)', { algorithm: 'AWS4-ECDSA-P256-SHA256' }],
    ['no algorithm name', { authorization: (v) => v.slice(v.indexOf(' ') + 1) }],
    ['a Bearer token', { authorization: () => 'Bearer Q09ORk9STUFOQ0U=' }],
    ['a SigV2-style header', { authorization: (v) => `AWS ${/Credential=([^/]*)/.exec(v)![1]}:c2lnbmF0dXJl` }],
  ]),
  shapes('duplicate-authorization', 'two Authorization headers (right + wrong, wrong + right, right twice) are answered 401', () => [
    ['the right Authorization, then a wrong one', { authorization: (v) => [v, v.replace(/Signature=\w+/, `Signature=${'0'.repeat(64)}`)] }],
    ['a wrong Authorization, then the right one', { authorization: (v) => [v.replace(/Signature=\w+/, `Signature=${'0'.repeat(64)}`), v] }],
    ['the right Authorization twice', { authorization: (v) => [v, v] }],
  ]),
  {
    id: 'sigv4.every-operation',
    group: GROUP,
    title: 'health, metadata, encrypt and decrypt each answer 401 to a wrong secret and to an unknown access key id',
    spec: 'Authentication (every request); AWS test client (invalid Sigv4 access id / key per operation)',
    level: 'MUST',
    async run({ client, options }) {
      const bytes = Buffer.alloc(32, 9);
      const bodies: Array<[XksOperation, object]> = [
        ['health', { requestMetadata: healthMetadata() }],
        ['metadata', { requestMetadata: requestMetadata('DescribeKey') }],
        ['encrypt', encryptBody({ plaintext: bytes })],
        ['decrypt', decryptBody({ ciphertext: bytes, iv: bytes.subarray(0, 12), tag: bytes.subarray(0, 16) })],
      ];
      // The AWS client's own way of making bad credentials: "Invalid" put in front.
      const wrong = [
        ['a wrong secret', { secretAccessKey: `Invalid${options.secretAccessKey}` }],
        ['an unknown access key id', { accessKeyId: `Invalid${options.accessKeyId}` }],
      ] as const;
      for (const [op, body] of bodies) {
        for (const [what, sign] of wrong) {
          const label = `${op} with ${what}`;
          expectError(await client.call(client.path(op), body, { sign }), ['AuthenticationFailedException'], label);
        }
      }
    },
  },
];
