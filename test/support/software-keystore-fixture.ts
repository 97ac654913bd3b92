// Temp-dir keystores for the software provider tests: fast (raw KEK or cheap scrypt).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRawKek, type KeystoreSecret, type ScryptParams } from '../../src/providers/software/software-keystore-kek.ts';

/** Cheap scrypt cost so tests that need a passphrase keystore stay fast. */
export const TEST_SCRYPT: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };

/** A fresh temp directory and a cleanup function. */
export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'xks-software-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A new random raw-KEK secret. */
export function rawKekSecret(): KeystoreSecret & { kek: string } {
  return { kek: generateRawKek() };
}
