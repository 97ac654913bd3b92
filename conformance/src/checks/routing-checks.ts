/** Routing: 405 on GET, URI paths, unknown keys (spec "API operations", "Error codes"). */
import type { CheckDefinition } from '../check.ts';
import { fail } from '../check.ts';
import { describeAnswer, expectError } from '../expect-answer.ts';
import { encryptBody, requestMetadata, decryptBody } from '../request-bodies.ts';
import type { XksOperation } from '../xks-client.ts';

const GROUP = 'routing';
const OPS: XksOperation[] = ['health', 'metadata', 'encrypt', 'decrypt'];
const UNKNOWN_KEY = 'conformance-no-such-key-7f3a';

/** Checks of the URI space. */
export const routingChecks: CheckDefinition[] = [
  {
    id: 'routing.get-405',
    group: GROUP,
    title: 'a (signed) GET on each of the four API URIs is answered 405 Method Not Allowed',
    spec: 'API operations',
    level: 'MUST',
    async run({ client }) {
      for (const op of OPS) {
        const a = await client.call(client.path(op), '', { method: 'GET' });
        if (a.status !== 405) fail(`GET ${op}: expected 405, got ${describeAnswer(a)}`);
      }
    },
  },
  {
    id: 'routing.unknown-prefix',
    group: GROUP,
    title: 'an unknown URI path prefix (the configured one plus a segment, as the AWS client sends) is 404 InvalidUriPathException on all four operations',
    spec: 'Error codes; API operations (path prefix)',
    level: 'MUST',
    async run({ client, options }) {
      const prefix = options.prefix === '' ? 'conformance-unknown' : `${options.prefix}/conformance-unknown`;
      const bytes = Buffer.alloc(16, 1);
      const bodies: Array<[XksOperation, object]> = [
        ['health', { requestMetadata: requestMetadata('KmsHealthCheck') }],
        ['metadata', { requestMetadata: requestMetadata('DescribeKey') }],
        ['encrypt', encryptBody({ plaintext: bytes })],
        ['decrypt', decryptBody({ ciphertext: bytes, iv: Buffer.alloc(12, 2), tag: bytes })],
      ];
      for (const [op, body] of bodies) {
        const a = await client.call(client.path(op, options.keys.main, prefix), body);
        expectError(a, ['InvalidUriPathException'], `${op} under an unknown prefix`);
      }
    },
  },
  {
    id: 'routing.unknown-operation',
    group: GROUP,
    title: 'an unknown operation under /keys/<id>/ is answered 404 InvalidUriPathException',
    spec: 'Error codes',
    level: 'SHOULD',
    async run({ client, options }) {
      const a = await client.call(`${client.basePath()}/keys/${options.keys.main}/sign`, { requestMetadata: requestMetadata('Sign') });
      expectError(a, ['InvalidUriPathException'], 'POST .../sign');
    },
  },
  {
    id: 'routing.unknown-key',
    group: GROUP,
    title: 'metadata, encrypt and decrypt on an unknown key are answered 404 KeyNotFoundException',
    spec: 'Error codes',
    level: 'MUST',
    async run({ client }) {
      const bytes = Buffer.alloc(16, 1);
      const bodies: Record<string, object> = {
        metadata: { requestMetadata: requestMetadata('DescribeKey') },
        encrypt: encryptBody({ plaintext: bytes }),
        decrypt: decryptBody({ ciphertext: bytes, iv: Buffer.alloc(12, 2), tag: bytes }),
      };
      for (const [op, body] of Object.entries(bodies)) {
        const a = await client.call(client.path(op as XksOperation, UNKNOWN_KEY), body);
        expectError(a, ['KeyNotFoundException'], `${op} on an unknown key`);
      }
    },
  },
  {
    id: 'routing.long-key-id',
    group: GROUP,
    title: 'an unknown externalKeyId of the maximum 128 characters is answered 404 KeyNotFoundException',
    spec: 'API operations (externalKeyId)',
    level: 'SHOULD',
    async run({ client }) {
      const id = `conformance.${'a'.repeat(128 - 'conformance.'.length - 4)}_-9Z`;
      const a = await client.call(client.path('metadata', id), { requestMetadata: requestMetadata('DescribeKey') });
      expectError(a, ['KeyNotFoundException'], `metadata on a ${id.length}-character key id`);
    },
  },
];
