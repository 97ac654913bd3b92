/** SigV4: what must be rejected and which valid variants must be accepted (spec Authentication, Appendix A). */
import { createHash } from 'node:crypto';
import type { CheckDefinition, CheckLevel } from '../check.ts';
import { expectError, expectSuccess } from '../expect-answer.ts';
import { healthMetadata, requestMetadata } from '../request-bodies.ts';
import type { CallOptions, XksClient } from '../xks-client.ts';

const GROUP = 'sigv4';
const SPEC_AUTH = 'Authentication; Appendix A';
const MINUTE = 60_000;

/** Sends a metadata call (a key operation, so secondary paths are covered too) with `opts`. */
function metadataCall(client: XksClient, opts: CallOptions) {
  return client.metadata(client.options.keys.main, requestMetadata('DescribeKey'), opts);
}

function rejection(id: string, title: string, level: CheckLevel, opts: (client: XksClient) => CallOptions, spec = SPEC_AUTH): CheckDefinition {
  return {
    id: `sigv4.${id}`,
    group: GROUP,
    title,
    spec,
    level,
    async run({ client }) {
      const a = await metadataCall(client, opts(client));
      expectError(a, ['AuthenticationFailedException'], title);
    },
  };
}

function acceptance(id: string, title: string, level: CheckLevel, opts: (client: XksClient) => CallOptions): CheckDefinition {
  return {
    id: `sigv4.${id}`,
    group: GROUP,
    title,
    spec: SPEC_AUTH,
    level,
    async run({ client }) {
      expectSuccess(await metadataCall(client, opts(client)), title);
      expectSuccess(await client.health(healthMetadata(), opts(client)), `${title} (health)`);
    },
  };
}

/** The configured secret with its last character changed. */
function otherSecret(secret: string): string {
  return secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
}

/**
 * Checks of request authentication: valid variants accepted, forged or replayed requests
 * refused. The malformed-header shapes are in sigv4-shape-checks.ts.
 */
export const sigv4Checks: CheckDefinition[] = [
  acceptance('valid-kms-style', 'a request signed as KMS signs it (SignedHeaders=host;x-amz-date) is accepted', 'MUST', () => ({
    sign: { signedHeaders: 'kms' },
  })),
  acceptance('valid-extra-signed-headers', 'a valid signature that also covers content-type and content-length is accepted', 'MUST', () => ({
    sign: { signedHeaders: 'all' },
  })),
  {
    id: 'sigv4.valid-formatted-body',
    group: GROUP,
    title: 'the payload hash is taken over the exact bytes sent (pretty-printed JSON, reordered fields)',
    spec: 'Appendix A, Task 1',
    level: 'MUST',
    async run({ client, options }) {
      const meta = requestMetadata('DescribeKey');
      const reordered = Object.fromEntries(Object.entries(meta).reverse());
      const body = `{\n  "requestMetadata" :\t${JSON.stringify(reordered, null, 4)}\n}\n`;
      expectSuccess(await client.call(client.path('metadata', options.keys.main), body), 'formatted body');
    },
  },
  acceptance('clock-skew-tolerated', 'a signature dated 4 minutes ago (clock drift within the window) is accepted', 'SHOULD', () => ({
    sign: { date: new Date(Date.now() - 4 * MINUTE) },
  })),
  rejection('missing-authorization', 'a request without an Authorization header is answered 401 AuthenticationFailedException', 'MUST', () => ({
    unsigned: true,
  })),
  rejection('malformed-authorization', 'a malformed Authorization header is answered 401 AuthenticationFailedException', 'MUST', () => ({
    setHeaders: { authorization: 'AWS4-HMAC-SHA256 Credential=garbage, SignedHeaders=host, Signature=00' },
  })),
  rejection('wrong-secret', 'a signature made with the wrong secret is answered 401 AuthenticationFailedException', 'MUST', (c) => ({
    sign: { secretAccessKey: otherSecret(c.options.secretAccessKey) },
  })),
  {
    id: 'sigv4.body-tampered',
    group: GROUP,
    title: 'a body changed after signing is answered 401, also when a signed X-Amz-Content-Sha256 vouches for the old body',
    spec: 'Appendix A, Task 1 (hash of the request payload)',
    level: 'MUST',
    async run({ client }) {
      const original = JSON.stringify({ requestMetadata: requestMetadata('DescribeKey') });
      const a = await metadataCall(client, { sign: { signedBody: original } });
      expectError(a, ['AuthenticationFailedException'], 'body changed after signing');
      const claimed = createHash('sha256').update(original).digest('hex');
      const b = await metadataCall(client, { sign: { signedBody: original, extraHeaders: { 'X-Amz-Content-Sha256': claimed } } });
      expectError(b, ['AuthenticationFailedException'], 'body changed after signing, X-Amz-Content-Sha256 of the original body');
    },
  },
  rejection('path-tampered', 'a signature made for another URI path is answered 401 AuthenticationFailedException', 'MUST', (c) => ({
    sign: { signedPath: c.path('health') },
  })),
  rejection('missing-date', 'a request whose signed X-Amz-Date header was removed is answered 401 AuthenticationFailedException', 'MUST', () => ({
    dropHeaders: ['x-amz-date'],
  })),
  rejection(
    'stale-date',
    'a signature dated 15 minutes ago is answered 401 AuthenticationFailedException (replay)',
    'MUST',
    () => ({
      sign: { date: new Date(Date.now() - 15 * MINUTE) },
    }),
    'Appendix A, Task 4',
  ),
  rejection(
    'future-date',
    'a signature dated 15 minutes ahead is answered 401 AuthenticationFailedException (replay)',
    'MUST',
    () => ({
      sign: { date: new Date(Date.now() + 15 * MINUTE) },
    }),
    'Appendix A, Task 4',
  ),
  rejection(
    'replay-window-past',
    'a signature dated 6 minutes ago (outside the 5-minute window) is answered 401',
    'SHOULD',
    () => ({
      sign: { date: new Date(Date.now() - 6 * MINUTE) },
    }),
    'Appendix A, Task 4',
  ),
  rejection(
    'replay-window-future',
    'a signature dated 6 minutes ahead (outside the 5-minute window) is answered 401',
    'SHOULD',
    () => ({
      sign: { date: new Date(Date.now() + 6 * MINUTE) },
    }),
    'Appendix A, Task 4',
  ),
];
