/** GetKeyMetadata: the response schema and the usages of the configured keys (spec GetKeyMetadata). */
import type { CheckDefinition } from '../check.ts';
import { fail, skip } from '../check.ts';
import { keyMetadataProblems } from '../answer-values.ts';
import { expectSuccess } from '../expect-answer.ts';
import type { ConformanceKeys } from '../options.ts';
import type { XksClient } from '../xks-client.ts';

const GROUP = 'key-metadata';
const SPEC = 'GetKeyMetadata';

interface KeyMetadata {
  keySpec: string;
  keyUsage: string[];
  keyStatus: string;
}

/**
 * Fetches a key's metadata; expectSuccess holds it to the value rules of
 * answer-values.ts (keySpec exactly AES_256, usages spelt ENCRYPT/DECRYPT, keyStatus
 * exactly ENABLED or DISABLED).
 */
async function readKeyMetadata(client: XksClient, keyId: string): Promise<KeyMetadata> {
  const body = expectSuccess(await client.metadata(keyId), `metadata of ${keyId}`);
  return { keySpec: body.keySpec as string, keyUsage: body.keyUsage as string[], keyStatus: body.keyStatus as string };
}

function usageCheck(role: Exclude<keyof ConformanceKeys, 'main'>, title: string, encrypt: boolean, decrypt: boolean): CheckDefinition {
  return {
    id: `key-metadata.${role.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}-key`,
    group: GROUP,
    title,
    spec: SPEC,
    level: 'MUST',
    async run({ client, options }) {
      const keyId = options.keys[role];
      if (keyId === '') skip(`no ${role} key configured`);
      const m = await readKeyMetadata(client, keyId);
      if (m.keyUsage.includes('ENCRYPT') !== encrypt) fail(`${keyId}: keyUsage ${JSON.stringify(m.keyUsage)} ${encrypt ? 'lacks' : 'includes'} ENCRYPT`);
      if (m.keyUsage.includes('DECRYPT') !== decrypt) fail(`${keyId}: keyUsage ${JSON.stringify(m.keyUsage)} ${decrypt ? 'lacks' : 'includes'} DECRYPT`);
      return `${keyId}: ${JSON.stringify(m.keyUsage)}`;
    },
  };
}

/** Checks of GetKeyMetadata. */
export const keyMetadataChecks: CheckDefinition[] = [
  {
    id: 'key-metadata.schema',
    group: GROUP,
    title: 'metadata has keySpec AES_256, keyUsage (at most 10 strings) and keyStatus ENABLED|DISABLED',
    spec: SPEC,
    level: 'MUST',
    async run({ client, options }) {
      const m = await readKeyMetadata(client, options.keys.main);
      return `${options.keys.main}: ${m.keySpec} ${JSON.stringify(m.keyUsage)} ${m.keyStatus}`;
    },
  },
  {
    id: 'key-metadata.kms-usable',
    group: GROUP,
    title: 'the main key reports ENCRYPT and DECRYPT and ENABLED, as KMS CreateKey requires',
    spec: 'GetKeyMetadata (KMS considerations)',
    level: 'MUST',
    async run({ client, options }) {
      const m = await readKeyMetadata(client, options.keys.main);
      if (!m.keyUsage.includes('ENCRYPT') || !m.keyUsage.includes('DECRYPT')) fail(`keyUsage ${JSON.stringify(m.keyUsage)} lacks ENCRYPT or DECRYPT`);
      if (m.keyStatus !== 'ENABLED') fail(`keyStatus is ${m.keyStatus}`);
    },
  },
  {
    id: 'key-metadata.values-every-key',
    group: GROUP,
    title: 'every configured key reports keySpec exactly AES_256, keyStatus exactly ENABLED|DISABLED, usages spelt ENCRYPT/DECRYPT',
    spec: 'GetKeyMetadata (keySpec, keyUsage, keyStatus values)',
    level: 'MUST',
    async run({ client, options }) {
      const seen: string[] = [];
      for (const keyId of (Object.values(options.keys) as string[]).filter((k) => k !== '')) {
        const a = await client.metadata(keyId);
        // Read the raw body so every key's problems are listed, not only the first key's.
        const body = expectSuccess({ ...a, answers: undefined }, `metadata of ${keyId}`);
        const problems = keyMetadataProblems(body);
        if (problems.length > 0) fail(`${keyId}: ${problems.join('; ')}`);
        seen.push(`${keyId} ${JSON.stringify(body.keyUsage)} ${String(body.keyStatus)}`);
      }
      return seen.join(', ');
    },
  },
  usageCheck('encryptOnly', 'the encrypt-only key reports ENCRYPT but not DECRYPT', true, false),
  usageCheck('decryptOnly', 'the decrypt-only key reports DECRYPT but not ENCRYPT', false, true),
  usageCheck('impotent', 'the key without usages reports neither ENCRYPT nor DECRYPT', false, false),
];
