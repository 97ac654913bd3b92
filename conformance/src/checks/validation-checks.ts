/** Input validation: bad requests get 400 ValidationException, never a 500 (spec operations, "Error codes"). */
import type { CheckDefinition, CheckLevel } from '../check.ts';
import { expectError } from '../expect-answer.ts';
import type { SpecErrorName } from '../error-table.ts';
import { decryptBody, encryptBody } from '../request-bodies.ts';
import type { XksOperation } from '../xks-client.ts';

const GROUP = 'validation';
const PLAINTEXT = Buffer.from('conformance plaintext');
const GCM = { ciphertext: Buffer.alloc(21, 3), iv: Buffer.alloc(12, 4), tag: Buffer.alloc(16, 5) };

type BodyCase = [label: string, op: XksOperation, body: string | object];

function badRequests(id: string, title: string, level: CheckLevel, spec: string, allowed: SpecErrorName[], cases: () => BodyCase[]): CheckDefinition {
  return {
    id: `validation.${id}`,
    group: GROUP,
    title,
    spec,
    level,
    async run({ client }) {
      for (const [label, op, body] of cases()) {
        expectError(await client.call(client.path(op), body), allowed, label);
      }
    },
  };
}

function encryptWith(change: Record<string, unknown>): object {
  return { ...encryptBody({ plaintext: PLAINTEXT }), ...change };
}

function decryptWith(change: Record<string, unknown>): object {
  return { ...decryptBody(GCM), ...change };
}

/** Checks that malformed input is refused the way the spec says. */
export const validationChecks: CheckDefinition[] = [
  badRequests('malformed-json', 'a body that is not valid JSON is answered 400 ValidationException', 'MUST', 'Error codes', ['ValidationException'], () => [
    ['metadata with a truncated JSON body', 'metadata', '{"requestMetadata": {"kmsOperation": "DescribeKey"'],
    ['encrypt with a non-JSON body', 'encrypt', 'plaintext=aGVsbG8='],
    ['decrypt with an empty body', 'decrypt', ''],
  ]),
  badRequests(
    'body-not-object',
    'a JSON body that is not an object is answered 400 ValidationException',
    'MUST',
    'Error codes',
    ['ValidationException'],
    () => [
      ['metadata with a JSON array', 'metadata', '[]'],
      ['encrypt with a JSON string', 'encrypt', '"plaintext"'],
      ['decrypt with JSON null', 'decrypt', 'null'],
    ],
  ),
  // The AWS test client fails a proxy that accepts GetHealthStatus or GetKeyMetadata without
  // requestMetadata or with an empty one, so for those two operations this is MUST here too.
  badRequests(
    'missing-request-metadata',
    'GetKeyMetadata without requestMetadata is answered 400 ValidationException',
    'MUST',
    'API operations (requestMetadata is REQUIRED); AWS test client',
    ['ValidationException'],
    () => [['metadata without requestMetadata', 'metadata', {}]],
  ),
  badRequests(
    'empty-request-metadata',
    'GetKeyMetadata with an empty requestMetadata object is answered 400 ValidationException',
    'MUST',
    'API operations (kmsRequestId, kmsOperation are REQUIRED); AWS test client',
    ['ValidationException'],
    () => [['metadata with empty requestMetadata', 'metadata', { requestMetadata: {} }]],
  ),
  badRequests(
    'health-missing-request-metadata',
    'GetHealthStatus without requestMetadata is answered 400 ValidationException',
    'MUST',
    'GetHealthStatus (requestMetadata is REQUIRED); AWS test client',
    ['ValidationException'],
    () => [['health with an empty body object', 'health', {}]],
  ),
  badRequests(
    'health-empty-request-metadata',
    'GetHealthStatus with an empty requestMetadata object is answered 400 ValidationException',
    'MUST',
    'GetHealthStatus (kmsRequestId, kmsOperation are REQUIRED); AWS test client',
    ['ValidationException'],
    () => [['health with empty requestMetadata', 'health', { requestMetadata: {} }]],
  ),
  badRequests(
    'crypto-request-metadata',
    'encrypt and decrypt without requestMetadata or with an empty one are answered 400 ValidationException',
    'SHOULD',
    'Encrypt, Decrypt (requestMetadata is REQUIRED)',
    ['ValidationException'],
    () => [
      ['encrypt without requestMetadata', 'encrypt', encryptWith({ requestMetadata: undefined })],
      ['decrypt without requestMetadata', 'decrypt', decryptWith({ requestMetadata: undefined })],
      ['encrypt with empty requestMetadata', 'encrypt', encryptWith({ requestMetadata: {} })],
    ],
  ),
  badRequests(
    'encrypt-plaintext',
    'encrypt with a missing, non-Base64 or non-string plaintext is answered 400 ValidationException',
    'MUST',
    'Encrypt (plaintext)',
    ['ValidationException'],
    () => [
      ['encrypt without plaintext', 'encrypt', encryptWith({ plaintext: undefined })],
      ['encrypt with plaintext "%%not base64%%"', 'encrypt', encryptWith({ plaintext: '%%not base64%%' })],
      ['encrypt with a numeric plaintext', 'encrypt', encryptWith({ plaintext: 12345 })],
    ],
  ),
  badRequests(
    'encrypt-algorithm-missing',
    'encrypt without encryptionAlgorithm is answered 400 ValidationException',
    'MUST',
    'Encrypt (encryptionAlgorithm is REQUIRED)',
    ['ValidationException'],
    () => [['encrypt without encryptionAlgorithm', 'encrypt', encryptWith({ encryptionAlgorithm: undefined })]],
  ),
  badRequests(
    'encrypt-algorithm-unknown',
    'encrypt with an encryptionAlgorithm other than AES_GCM is refused (400 ValidationException or 501)',
    'MUST',
    'Encrypt (encryptionAlgorithm MUST be AES_GCM)',
    ['ValidationException', 'UnsupportedOperationException'],
    () => [['encrypt with AES_CBC', 'encrypt', encryptWith({ encryptionAlgorithm: 'AES_CBC' })]],
  ),
  badRequests(
    'encrypt-aad-not-base64',
    'encrypt with a non-Base64 additionalAuthenticatedData is answered 400 ValidationException',
    'MUST',
    'Encrypt (additionalAuthenticatedData)',
    ['ValidationException'],
    () => [['encrypt with AAD "not base64!"', 'encrypt', encryptWith({ additionalAuthenticatedData: 'not base64!' })]],
  ),
  badRequests(
    'encrypt-cdiv-algorithm-unknown',
    'encrypt with a CDIV algorithm other than SHA_256 is refused (400 ValidationException or 501)',
    'MUST',
    'Encrypt (ciphertextDataIntegrityValueAlgorithm MUST be SHA_256)',
    ['ValidationException', 'UnsupportedOperationException'],
    () => [['encrypt with CDIV algorithm SHA_512', 'encrypt', encryptWith({ ciphertextDataIntegrityValueAlgorithm: 'SHA_512' })]],
  ),
  badRequests(
    'decrypt-missing-fields',
    'decrypt without ciphertext, IV or tag is answered 400 (ValidationException or InvalidCiphertextException)',
    'MUST',
    'Decrypt (REQUIRED fields); Error codes',
    ['ValidationException', 'InvalidCiphertextException'],
    () => [
      ['decrypt without ciphertext', 'decrypt', decryptWith({ ciphertext: undefined })],
      ['decrypt without initializationVector', 'decrypt', decryptWith({ initializationVector: undefined })],
      ['decrypt without authenticationTag', 'decrypt', decryptWith({ authenticationTag: undefined })],
    ],
  ),
  badRequests(
    'decrypt-algorithm',
    'decrypt without encryptionAlgorithm or with another algorithm is refused',
    'MUST',
    'Decrypt (encryptionAlgorithm)',
    ['ValidationException', 'UnsupportedOperationException'],
    () => [
      ['decrypt without encryptionAlgorithm', 'decrypt', decryptWith({ encryptionAlgorithm: undefined })],
      ['decrypt with AES_CBC', 'decrypt', decryptWith({ encryptionAlgorithm: 'AES_CBC' })],
    ],
  ),
  badRequests(
    'decrypt-not-base64',
    'decrypt with non-Base64 binary fields is answered 400 (ValidationException or InvalidCiphertextException)',
    'MUST',
    'Decrypt',
    ['ValidationException', 'InvalidCiphertextException'],
    () => [
      ['decrypt with ciphertext "%%%"', 'decrypt', decryptWith({ ciphertext: '%%%' })],
      ['decrypt with initializationVector "***"', 'decrypt', decryptWith({ initializationVector: '***' })],
      ['decrypt with ciphertextMetadata "!!"', 'decrypt', decryptWith({ ciphertextMetadata: '!!' })],
    ],
  ),
];
