/** Tamper detection: any change to a GCM input makes Decrypt fail (spec Decrypt, Encrypt ciphertextMetadata). */
import { randomBytes } from 'node:crypto';
import type { CheckDefinition, CheckContext } from '../check.ts';
import { skip } from '../check.ts';
import { decryptInputFor, encryptOk } from '../crypto-answers.ts';
import type { EncryptOutput } from '../crypto-answers.ts';
import { expectError } from '../expect-answer.ts';
import type { SpecErrorName } from '../error-table.ts';
import type { DecryptInput } from '../request-bodies.ts';

const GROUP = 'tamper';
const AAD = Buffer.from('project=nile,department=marketing');
const CORRUPT: SpecErrorName[] = ['InvalidCiphertextException'];
/** A changed ciphertextMetadata may also be refused as bad input by a proxy that parses it. */
const CORRUPT_METADATA: SpecErrorName[] = ['InvalidCiphertextException', 'ValidationException'];

/** A copy of `b` with one bit of byte `i` flipped (negative i counts from the end). */
function flip(b: Uint8Array, i: number): Buffer {
  const c = Buffer.from(b);
  const at = i < 0 ? c.length + i : i;
  c[at] = c[at]! ^ 0x01;
  return c;
}

interface Sample {
  out: EncryptOutput;
  aad: Buffer | undefined;
  input: DecryptInput;
}

async function sample(ctx: CheckContext, withAad = true): Promise<Sample> {
  const aad = withAad ? AAD : undefined;
  const out = await encryptOk(ctx.client, ctx.options.keys.main, aad ? { plaintext: randomBytes(32), aad } : { plaintext: randomBytes(32) });
  return { out, aad, input: decryptInputFor(out, aad) };
}

function tamper(id: string, title: string, spec: string, change: (s: Sample) => DecryptInput, allowed = CORRUPT, withAad = true): CheckDefinition {
  return {
    id: `tamper.${id}`,
    group: GROUP,
    title,
    spec,
    level: 'MUST',
    async run(ctx) {
      const s = await sample(ctx, withAad);
      expectError(await ctx.client.decrypt(ctx.options.keys.main, change(s)), allowed, title);
    },
  };
}

/** Checks that every GCM input is authenticated. */
export const tamperChecks: CheckDefinition[] = [
  tamper('ciphertext', 'a flipped ciphertext bit is 400 InvalidCiphertextException', 'Decrypt; Error codes', (s) => ({
    ...s.input,
    ciphertext: flip(s.out.ciphertext, 0),
  })),
  tamper('tag', 'a flipped authentication tag bit is 400 InvalidCiphertextException', 'Decrypt; Error codes', (s) => ({
    ...s.input,
    tag: flip(s.out.tag, -1),
  })),
  tamper('iv', 'a flipped IV bit is 400 InvalidCiphertextException', 'Decrypt; Error codes', (s) => ({ ...s.input, iv: flip(s.out.iv, 0) })),
  tamper('aad-changed', 'a different AAD is 400 InvalidCiphertextException', 'Decrypt (additionalAuthenticatedData); Error codes', (s) => ({
    ...s.input,
    aad: flip(AAD, 5),
  })),
  tamper(
    'aad-removed',
    'leaving out the AAD used at encryption is 400 InvalidCiphertextException',
    'Decrypt (additionalAuthenticatedData); Error codes',
    (s) => {
      const { aad: _dropped, ...rest } = s.input;
      return rest;
    },
  ),
  tamper(
    'aad-added',
    'adding an AAD that was not used at encryption is 400 InvalidCiphertextException',
    'Decrypt (additionalAuthenticatedData); Error codes',
    (s) => ({ ...s.input, aad: AAD }),
    CORRUPT,
    false,
  ),
  {
    id: 'tamper.metadata-changed',
    group: GROUP,
    title: 'a changed (or added) ciphertextMetadata makes decrypt fail with 400',
    spec: 'Decrypt (ciphertextMetadata: MUST detect modification); Encrypt (ciphertextMetadata)',
    level: 'MUST',
    async run(ctx) {
      const s = await sample(ctx);
      const metadata = s.out.metadata && s.out.metadata.length > 0 ? flip(s.out.metadata, -1) : Buffer.from([0x01]);
      expectError(await ctx.client.decrypt(ctx.options.keys.main, { ...s.input, metadata }), CORRUPT_METADATA, 'decrypt with changed ciphertextMetadata');
      return s.out.metadata ? 'flipped a bit of the returned ciphertextMetadata' : 'added 1 byte of ciphertextMetadata (none was returned)';
    },
  },
  {
    id: 'tamper.metadata-removed',
    group: GROUP,
    title: 'leaving out the returned ciphertextMetadata makes decrypt fail with 400',
    spec: 'Decrypt (ciphertextMetadata); Encrypt (ciphertextMetadata)',
    level: 'MUST',
    async run(ctx) {
      const s = await sample(ctx);
      if (!s.out.metadata || s.out.metadata.length === 0) skip('the proxy returns no ciphertextMetadata');
      const { metadata: _dropped, ...rest } = s.input;
      expectError(await ctx.client.decrypt(ctx.options.keys.main, rest), CORRUPT_METADATA, 'decrypt without ciphertextMetadata');
    },
  },
  {
    id: 'tamper.aad-metadata-boundary',
    group: GROUP,
    title: 'moving bytes between the end of the AAD and the start of ciphertextMetadata makes decrypt fail',
    spec: 'Encrypt (ciphertextMetadata: explicit lengths of AAD and metadata)',
    level: 'MUST',
    async run(ctx) {
      const s = await sample(ctx);
      const md = s.out.metadata ?? Buffer.alloc(0);
      const key = ctx.options.keys.main;
      if (md.length < 20) {
        const moved = { ...s.input, aad: AAD.subarray(0, -1), metadata: Buffer.concat([AAD.subarray(-1), md]) };
        expectError(await ctx.client.decrypt(key, moved), CORRUPT_METADATA, 'last AAD byte moved to the front of ciphertextMetadata');
      }
      if (md.length > 0) {
        const moved: DecryptInput = { ...s.input, aad: Buffer.concat([AAD, md.subarray(0, 1)]) };
        if (md.length > 1) moved.metadata = md.subarray(1);
        else delete moved.metadata;
        expectError(await ctx.client.decrypt(key, moved), CORRUPT_METADATA, 'first ciphertextMetadata byte moved to the end of the AAD');
      }
    },
  },
  {
    id: 'tamper.metadata-as-aad',
    group: GROUP,
    title: 'passing the returned ciphertextMetadata as AAD (and no metadata) makes decrypt fail',
    spec: 'Encrypt (ciphertextMetadata NOTE)',
    level: 'MUST',
    async run(ctx) {
      const s = await sample(ctx, false);
      if (!s.out.metadata || s.out.metadata.length === 0) skip('the proxy returns no ciphertextMetadata');
      const input: DecryptInput = { ciphertext: s.out.ciphertext, iv: s.out.iv, tag: s.out.tag, aad: s.out.metadata };
      expectError(await ctx.client.decrypt(ctx.options.keys.main, input), CORRUPT_METADATA, 'ciphertextMetadata passed as AAD');
    },
  },
];
