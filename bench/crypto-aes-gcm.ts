// Micro benchmark for the software keystore hot path: AES-256-GCM encrypt + decrypt round
// trips with node:crypto (OpenSSL) and @noble/ciphers (pure JS), for a 32-byte payload (a
// typical KMS data key) and a 4 KB one (near the spec's 4300-byte plaintext limit).
// Run: npx tsx bench/crypto-aes-gcm.ts [seconds-per-case]
import { randomBytes } from 'node:crypto';
import { gcm } from '@noble/ciphers/aes.js';
import { gcmDecrypt, gcmEncrypt } from '../src/providers/software/software-aes-gcm.ts';

type RoundTrip = (key: Buffer, plaintext: Buffer, aad: Buffer) => Uint8Array;

const libraries: Record<string, RoundTrip> = {
  'node:crypto': (key, plaintext, aad) => {
    const iv = randomBytes(12);
    const { ciphertext, tag } = gcmEncrypt(key, iv, plaintext, aad);
    const back = gcmDecrypt(key, iv, ciphertext, tag, aad);
    if (back === null) throw new Error('node:crypto round trip failed');
    return back;
  },
  '@noble/ciphers': (key, plaintext, aad) => {
    const iv = randomBytes(12);
    const sealed = gcm(key, iv, aad).encrypt(plaintext);
    return gcm(key, iv, aad).decrypt(sealed);
  },
};

/** Round trips per second for `seconds` of wall time, after a short warm-up. */
function measure(fn: RoundTrip, size: number, seconds: number): number {
  const key = randomBytes(32);
  const plaintext = randomBytes(size);
  // The spec's AAD construction adds a few bytes to KMS's own AAD; 64 bytes is typical.
  const aad = randomBytes(64);
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil) fn(key, plaintext, aad);
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) fn(key, plaintext, aad);
    ops += 50;
  }
  return ops / ((performance.now() - start) / 1000);
}

function checkSameOutput(): void {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const aad = randomBytes(64);
  const plaintext = randomBytes(4096);
  const a = gcmEncrypt(key, iv, plaintext, aad);
  const b = gcm(key, iv, aad).encrypt(plaintext);
  if (!Buffer.concat([a.ciphertext, a.tag]).equals(Buffer.from(b))) throw new Error('libraries disagree');
}

const seconds = Number(process.argv[2] ?? 2);
checkSameOutput();
console.log(`AES-256-GCM encrypt+decrypt round trips per second (node ${process.version}, ${seconds} s per case)`);
const results: Record<string, Record<string, number>> = {};
for (const [name, fn] of Object.entries(libraries)) {
  results[name] = {};
  for (const size of [32, 4096]) results[name][`${size} B`] = Math.round(measure(fn, size, seconds));
}
console.table(results);
for (const size of ['32 B', '4096 B']) {
  const ratio = results['node:crypto']![size]! / results['@noble/ciphers']![size]!;
  console.log(`${size}: node:crypto is ${ratio.toFixed(1)}x @noble/ciphers`);
}
