import type { KeyUsage } from '../../xks/key-provider-port.ts';
import { zeroContents } from './software-keystore-contents.ts';
import { KeystoreFileError } from './software-keystore-errors.ts';
import { SoftwareKeystoreFile } from './software-keystore-file.ts';
import type { KeystoreSecret } from './software-keystore-kek.ts';
import { addKey } from './software-keystore.ts';

/**
 * The keys of the public AWS XKS proxy test client (aws-samples/aws-kms-xksproxy-test-client)
 * with the usages it expects.
 */
export const DEMO_KEYS: readonly { keyId: string; usages: readonly KeyUsage[] }[] = [
  { keyId: 'foo', usages: ['ENCRYPT', 'DECRYPT'] },
  { keyId: 'encrypt_only_key', usages: ['ENCRYPT'] },
  { keyId: 'decrypt_only_key', usages: ['DECRYPT'] },
  { keyId: 'impotent_key', usages: [] },
];

/**
 * Makes sure the demo keystore exists with the demo keys: creates the file when missing and
 * adds any missing demo key; existing keys are left as they are. Idempotent.
 */
export async function ensureDemoKeystore(path: string, secret: KeystoreSecret): Promise<{ createdFile: boolean; createdKeys: string[] }> {
  const file = new SoftwareKeystoreFile(path, secret);
  try {
    let createdFile = false;
    if ((await file.stat()) === undefined) {
      try {
        await file.create();
        createdFile = true;
      } catch (e) {
        // Another process created it between our stat and our lock: fine, fill it below.
        if (!(e instanceof KeystoreFileError && e.kind === 'exists')) throw e;
      }
    }
    const { contents } = await file.read();
    const complete = DEMO_KEYS.every((k) => contents.keys.has(k.keyId));
    zeroContents(contents);
    // Only take the lock and rewrite when something is missing: a demo start is read-only.
    if (complete) return { createdFile, createdKeys: [] };
    const createdKeys = await file.update((contents) =>
      DEMO_KEYS.filter((k) => !contents.keys.has(k.keyId)).map((k) => addKey(path, contents, k.keyId, { usages: k.usages, enabled: true }).keyId),
    );
    return { createdFile, createdKeys };
  } finally {
    file.close();
  }
}
