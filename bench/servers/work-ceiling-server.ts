/**
 * The work ceiling: the bare Hono baseline plus only the work no XKS proxy can skip, to
 * show how close to the bare baseline any proxy on this stack can come. Per request it
 * verifies SigV4 (the proxy's own verifier), parses the JSON body, decodes the Base64
 * fields, builds the spec's GCM AAD and runs the request mix's AES-256-GCM (Encrypt: a
 * random IV, encrypt, the verification decrypt and the CDIV; Decrypt: one decrypt) and
 * answers with the spec's fields. It leaves out everything else the proxy does: strict
 * field validation and its error messages, key lookup and versions, the provider seam
 * and its deadline, logging, metrics, in-flight tracking, routing by prefix.
 *
 * The cipher is node:crypto with a random key (`software`), or a PKCS#11 token
 * (`pkcs11`: the bench token from the environment, see ../ceilings/pkcs11-bench-token.ts,
 * with a pool of `sessions` sessions and pkcs11js's async calls, as the provider does).
 * One key store, one key, one credential; the secret comes from XKS_BENCH_SIGV4_SECRET
 * (never argv). Bad requests get a bare 400/401 JSON error: it serves the benchmark only.
 * Run: XKS_BENCH_SIGV4_SECRET=... node --import tsx bench/servers/work-ceiling-server.ts
 *      [port] [region] [accessKeyId] [software|pkcs11] [sessions]
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { CredentialSet } from '../../src/auth/credential-set.ts';
import { verifySigV4 } from '../../src/auth/sigv4-verify.ts';
import { randomIv } from '../../src/providers/random-iv.ts';
import { gcmDecrypt, gcmEncrypt } from '../../src/providers/software/software-aes-gcm.ts';
import { GCM_TAG_BYTES } from '../../src/xks/gcm-sizes.ts';
import { computeCdiv } from '../../src/xks/cdiv.ts';
import { encodeCiphertextMetadata } from '../../src/xks/ciphertext-metadata.ts';
import { buildGcmAad } from '../../src/xks/gcm-aad.ts';
import { openBenchToken } from '../ceilings/pkcs11-bench-token.ts';
import { sessionQueue } from '../ceilings/session-queue.ts';
import { serveForBench } from './serve-for-bench.ts';

const [, , , region = 'us-east-1', accessKeyId = 'BENCHMARKACCESSKEYIDAAAAAA', cipherKind = 'software', sessions = '8'] = process.argv;
const secret = process.env.XKS_BENCH_SIGV4_SECRET;
if (secret === undefined || secret === '') throw new Error('set XKS_BENCH_SIGV4_SECRET to the SigV4 secret the load generator signs with');
const credentials = new CredentialSet([{ accessKeyId, secret }]);
const metadata = encodeCiphertextMetadata(1);
const metadataB64 = metadata.toString('base64');

/** AES-256-GCM with the server's one key; decrypt gives null when the tag does not verify. */
interface CeilingCipher {
  encrypt(iv: Buffer, plaintext: Buffer, aad: Buffer): { ciphertext: Buffer; tag: Buffer } | Promise<{ ciphertext: Buffer; tag: Buffer }>;
  decrypt(iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer | null | Promise<Buffer | null>;
}

function softwareCipher(): CeilingCipher {
  const key = randomBytes(32);
  return {
    encrypt: (iv, plaintext, aad) => gcmEncrypt(key, iv, plaintext, aad),
    decrypt: (iv, ciphertext, tag, aad) => gcmDecrypt(key, iv, ciphertext, tag, aad),
  };
}

function pkcs11Cipher(sessionCount: number): CeilingCipher {
  const { p, sessions, key, gcm } = openBenchToken(sessionCount);
  const withSession = sessionQueue(sessions);
  return {
    encrypt: (iv, plaintext, aad) =>
      withSession(async (session) => {
        p.C_EncryptInit(session, gcm(iv, aad), key);
        const out = await p.C_EncryptAsync(session, plaintext, Buffer.alloc(plaintext.length + GCM_TAG_BYTES));
        return { ciphertext: out.subarray(0, out.length - GCM_TAG_BYTES), tag: out.subarray(out.length - GCM_TAG_BYTES) };
      }),
    decrypt: (iv, ciphertext, tag, aad) =>
      withSession(async (session) => {
        p.C_DecryptInit(session, gcm(iv, aad), key);
        try {
          return await p.C_DecryptAsync(session, Buffer.concat([ciphertext, tag]), Buffer.alloc(ciphertext.length + GCM_TAG_BYTES));
        } catch {
          return null; // CKR_ENCRYPTED_DATA_INVALID and the like: the tag did not verify
        }
      }),
  };
}

const cipher = cipherKind === 'pkcs11' ? pkcs11Cipher(Number(sessions)) : softwareCipher();

type Body = Record<string, string | undefined>;
const b64 = (value: string | undefined) => (value === undefined ? undefined : Buffer.from(value, 'base64'));

async function encrypt(body: Body): Promise<Record<string, string> | null> {
  const plaintext = b64(body.plaintext);
  if (plaintext === undefined) return null;
  const aad = b64(body.additionalAuthenticatedData);
  const gcmAad = buildGcmAad(aad, metadata, 'spec');
  const iv = randomIv();
  const { ciphertext, tag } = await cipher.encrypt(iv, plaintext, gcmAad);
  if ((await cipher.decrypt(iv, ciphertext, tag, gcmAad)) === null) return null; // the proxy's CDIV verification decrypt
  return {
    authenticationTag: tag.toString('base64'),
    ciphertext: ciphertext.toString('base64'),
    ciphertextDataIntegrityValue: computeCdiv({ aad, ciphertextMetadata: metadata, iv, ciphertext, tag }),
    ciphertextMetadata: metadataB64,
    initializationVector: iv.toString('base64'),
  };
}

async function decrypt(body: Body): Promise<Record<string, string> | null> {
  const [ciphertext, iv, tag] = [b64(body.ciphertext), b64(body.initializationVector), b64(body.authenticationTag)];
  if (ciphertext === undefined || iv === undefined || tag === undefined) return null;
  const gcmAad = buildGcmAad(b64(body.additionalAuthenticatedData), b64(body.ciphertextMetadata), 'spec');
  const plaintext = await cipher.decrypt(iv, ciphertext, tag, gcmAad);
  return plaintext === null ? null : { plaintext: plaintext.toString('base64') };
}

const app = new Hono<{ Bindings: HttpBindings }>();
app.post('*', async (c) => {
  const incoming = c.env.incoming;
  const bytes = Buffer.from(await c.req.arrayBuffer());
  const [path = '', query = ''] = (incoming.url ?? '').split('?', 2);
  const verdict = verifySigV4(
    { method: 'POST', path, query, headers: incoming.headers, body: bytes },
    { region, service: 'kms-xks-proxy', now: new Date(), credentials },
  );
  if (!verdict.ok) return c.json({ errorName: 'AuthenticationFailedException', errorMessage: verdict.reason }, 401);
  let body: Body;
  try {
    body = JSON.parse(bytes.toString('utf8')) as Body;
  } catch {
    return c.json({ errorName: 'ValidationException', errorMessage: 'body is not JSON' }, 400);
  }
  const answer = path.endsWith('/encrypt') ? await encrypt(body) : path.endsWith('/decrypt') ? await decrypt(body) : null;
  return answer === null ? c.json({ errorName: 'ValidationException', errorMessage: 'not an encrypt or decrypt this server can do' }, 400) : c.json(answer);
});

// Wrapped as the proxy's listener wraps it (src/server/listener.ts), so the ratio stays fair.
const handle = getRequestListener((request, env) => app.fetch(request, env));
serveForBench(http.createServer((req, res) => void handle(req, res)));
