/** requestMetadata is opaque context: unknown fields, new kmsOperations and any request id are accepted. */
import { randomBytes } from 'node:crypto';
import type { CheckDefinition } from '../check.ts';
import { decryptInputFor, decryptOk, encryptOk } from '../crypto-answers.ts';
import { expectSuccess } from '../expect-answer.ts';
import { healthMetadata, requestMetadata } from '../request-bodies.ts';
import type { XksClient } from '../xks-client.ts';

const GROUP = 'request-metadata';

/** Runs all four operations with the requestMetadata `meta(op)` gives and expects success. */
async function allOperationsAccept(client: XksClient, meta: (kmsOperation: string, isHealth: boolean) => Record<string, unknown>, what: string): Promise<void> {
  const key = client.options.keys.main;
  expectSuccess(await client.health(meta('KmsHealthCheck', true)), `health ${what}`);
  expectSuccess(await client.metadata(key, meta('DescribeKey', false)), `metadata ${what}`);
  const plaintext = randomBytes(32);
  const out = await encryptOk(client, key, { plaintext }, `encrypt ${what}`, meta('Encrypt', false));
  await decryptOk(client, key, decryptInputFor(out), plaintext, `decrypt ${what}`, meta('Decrypt', false));
}

/** Checks that the proxy does not over-validate requestMetadata. */
export const requestMetadataChecks: CheckDefinition[] = [
  {
    id: 'request-metadata.unknown-fields',
    group: GROUP,
    title: 'requestMetadata fields the proxy does not know are accepted on all four operations',
    spec: 'Appendix B (KMS may add fields)',
    level: 'MUST',
    async run({ client }) {
      const extra = { kmsRecipientAttestationImageSha384: 'ab'.repeat(48), sourceIdentity: 'conformance', futureField: { nested: [1, 2] } };
      await allOperationsAccept(client, (op, h) => (h ? healthMetadata(op, extra) : requestMetadata(op, extra)), 'with unknown requestMetadata fields');
    },
  },
  {
    id: 'request-metadata.unknown-kms-operation',
    group: GROUP,
    title: 'a kmsOperation the proxy has never seen is accepted on all four operations',
    spec: 'GetKeyMetadata, Encrypt, Decrypt, GetHealthStatus (MUST NOT reject other kmsOperation values)',
    level: 'MUST',
    async run({ client }) {
      await allOperationsAccept(
        client,
        (_op, h) => (h ? healthMetadata('FutureHealthProbe') : requestMetadata('BulkFutureOperation')),
        'with an unknown kmsOperation',
      );
    },
  },
  {
    id: 'request-metadata.opaque-request-id',
    group: GROUP,
    title: 'a kmsRequestId that is not a UUID is accepted (it is opaque)',
    spec: 'API operations (kmsRequestId: MUST NOT validate its structure)',
    level: 'MUST',
    async run({ client }) {
      const id = 'not-a-uuid:conformance/0001 with spaces';
      await allOperationsAccept(
        client,
        (op, h) => (h ? healthMetadata(op, { kmsRequestId: id }) : requestMetadata(op, { kmsRequestId: id })),
        'with a non-UUID kmsRequestId',
      );
    },
  },
  {
    id: 'request-metadata.optional-fields',
    group: GROUP,
    title: 'the optional awsSourceVpc, awsSourceVpce and kmsViaService are accepted when present and when absent',
    spec: 'Encrypt, Decrypt (requestMetadata optional fields)',
    level: 'MUST',
    async run({ client }) {
      const vpc = { awsSourceVpc: 'vpc-0123456789abcdef0', awsSourceVpce: 'vpce-0123456789abcdef0', kmsViaService: 's3' };
      await allOperationsAccept(client, (op, h) => (h ? healthMetadata(op) : requestMetadata(op, vpc)), 'with VPC fields');
      await allOperationsAccept(
        client,
        (op, h) => (h ? healthMetadata(op) : requestMetadata(op, { kmsViaService: undefined })),
        'with the minimal requestMetadata',
      );
    },
  },
  {
    id: 'request-metadata.known-kms-operations',
    group: GROUP,
    title: 'every kmsOperation the spec lists for an API is accepted',
    spec: 'GetKeyMetadata, Encrypt, Decrypt (kmsOperation)',
    level: 'MUST',
    async run({ client, options }) {
      const key = options.keys.main;
      for (const op of ['CreateKey', 'DescribeKey']) expectSuccess(await client.metadata(key, requestMetadata(op)), `metadata for ${op}`);
      const plaintext = randomBytes(32);
      for (const op of ['Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncrypt']) {
        const out = await encryptOk(client, key, { plaintext }, `encrypt for ${op}`, requestMetadata(op));
        for (const dop of ['Decrypt', 'ReEncrypt']) await decryptOk(client, key, decryptInputFor(out), plaintext, `decrypt for ${dop}`, requestMetadata(dop));
      }
    },
  },
];
