import type { GcmInput, GcmOutput } from '../../xks/key-provider-port.ts';
import { GCM_TAG_BYTES } from '../../xks/gcm-sizes.ts';
import type { Pkcs11Api, Pkcs11Handle, Pkcs11Mechanism } from './pkcs11-api.ts';
import { CKM } from './pkcs11-constants.ts';
import { Pkcs11CallError } from './pkcs11-call-error.ts';

/** A zero-length view into a one-byte buffer: its data pointer is never NULL. */
const EMPTY_INPUT = Buffer.alloc(1).subarray(0, 0);

function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function gcm(iv: Buffer, aad: Uint8Array): Pkcs11Mechanism {
  return { mechanism: CKM.AES_GCM, gcm: { iv, aad: view(aad), tagBits: GCM_TAG_BYTES * 8 } };
}

/**
 * AES-GCM encrypt inside the token on `session`, on the libuv thread pool. The token
 * returns ciphertext || tag; the tag is split off (spec Encrypt response). `iv` is passed
 * by reference: with a token that generates IVs, it holds the token's IV afterwards.
 *
 * Not an async function (a promise and a microtask less per call, docs/performance.md): a
 * C_EncryptInit failure is thrown at once, the token's answer comes in the promise. The
 * callers await it inside a try, where both arrive the same way.
 */
export function pkcs11GcmEncrypt(
  api: Pkcs11Api,
  session: Pkcs11Handle,
  key: Pkcs11Handle,
  iv: Buffer,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Promise<GcmOutput> {
  api.C_EncryptInit(session, gcm(iv, aad), key);
  // From Node's buffer pool (no ArrayBuffer of its own per call): the token writes every
  // byte of it, which the length check below confirms.
  const out = Buffer.allocUnsafe(plaintext.byteLength + GCM_TAG_BYTES);
  // Always one single-part C_Encrypt: NSS softoken has no multi-part GCM (C_EncryptUpdate /
  // C_EncryptFinal -> CKR_OPERATION_NOT_INITIALIZED with the operation left active), and
  // some HSMs restrict it too. Empty plaintext goes in as a non-NULL zero-length buffer:
  // Node may back an empty Buffer with a NULL pointer, which SoftHSM2 refuses with
  // CKR_ARGUMENTS_BAD (measured); both SoftHSM2 and NSS return just the tag for it.
  const input = plaintext.byteLength === 0 ? EMPTY_INPUT : view(plaintext);
  return api.C_EncryptAsync(session, input, out).then((result) => {
    if (result.length !== plaintext.byteLength + GCM_TAG_BYTES) {
      throw new Pkcs11CallError(0, `token returned ${result.length} bytes for ${plaintext.byteLength} bytes of plaintext`);
    }
    const split = result.length - GCM_TAG_BYTES;
    // Views, not copies: `out` and `iv` belong to this call alone. Ciphertext and tag stay
    // adjacent, so the CDIV's verification decrypt passes them to the token without a concat.
    return { iv, ciphertext: result.subarray(0, split), tag: result.subarray(split) };
  });
}

/** The ciphertext and tag as one buffer: a view when they are adjacent in memory (our own encrypt output), else a copy. */
function sealedInput(ciphertext: Uint8Array, tag: Uint8Array): Buffer {
  if (ciphertext.buffer === tag.buffer && ciphertext.byteOffset + ciphertext.byteLength === tag.byteOffset) {
    return Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength + tag.byteLength);
  }
  return Buffer.concat([ciphertext, tag]);
}

/**
 * AES-GCM decrypt inside the token on `session`, on the libuv thread pool; the token
 * checks the tag. As for encrypt: a C_DecryptInit failure is thrown at once, the token's
 * answer is pkcs11js's own promise.
 */
export function pkcs11GcmDecrypt(api: Pkcs11Api, session: Pkcs11Handle, key: Pkcs11Handle, input: GcmInput, aad: Uint8Array): Promise<Uint8Array> {
  // The IV is only read on decrypt: a view of the caller's bytes, no copy.
  api.C_DecryptInit(session, gcm(view(input.iv), aad), key);
  const data = sealedInput(input.ciphertext, input.tag);
  // Room for the whole input: some tokens want the output buffer as large as the input.
  // From the buffer pool, as for encrypt; the result is the part the token wrote.
  return api.C_DecryptAsync(session, data, Buffer.allocUnsafe(data.length));
}
