/** GetKeyMetadata: the response schema and the usages of the configured keys (spec GetKeyMetadata). */
import type { CheckDefinition } from '../check.ts';
import { fail, skip } from '../check.ts';
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

/** Fetches a key's metadata and checks it against the response schema. */
async function readKeyMetadata(client: XksClient, keyId: string): Promise<KeyMetadata> {
  const what = `metadata of ${keyId}`;
  const body = expectSuccess(await client.metadata(keyId), what);
  if (body.keySpec !== 'AES_256') fail(`${what}: keySpec is ${JSON.stringify(body.keySpec)}, must be "AES_256"`);
  const usage = body.keyUsage;
  if (!Array.isArray(usage) || !usage.every((u) => typeof u === 'string')) fail(`${what}: keyUsage is not an array of strings`);
  if (usage.length > 10) fail(`${what}: keyUsage has ${usage.length} values, at most 10 allowed`);
  if (body.keyStatus !== 'ENABLED' && body.keyStatus !== 'DISABLED') fail(`${what}: keyStatus is ${JSON.stringify(body.keyStatus)}, must be ENABLED or DISABLED`);
  return { keySpec: body.keySpec, keyUsage: usage as string[], keyStatus: body.keyStatus };
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
  usageCheck('encryptOnly', 'the encrypt-only key reports ENCRYPT but not DECRYPT', true, false),
  usageCheck('decryptOnly', 'the decrypt-only key reports DECRYPT but not ENCRYPT', false, true),
  usageCheck('impotent', 'the key without usages reports neither ENCRYPT nor DECRYPT', false, false),
];
