import { lock } from 'proper-lockfile';
import { KeystoreFileError } from './software-keystore-errors.ts';

/** How long a lock held by a crashed process blocks others before it counts as stale. */
const STALE_MS = 10_000;

/** Signals to a locked section that the lock was lost, so it must not write. */
export interface LockState {
  /** Throws when the lock was compromised (e.g. taken over as stale); call before committing. */
  assertHeld(): void;
}

/**
 * Runs `fn` while holding the inter-process lock of a keystore file (a `<file>.lock`
 * directory managed by proper-lockfile, which works across processes and survives crashes
 * via its stale timeout). Readers do not lock: writes are atomic renames.
 */
export async function withKeystoreLock<T>(file: string, fn: (state: LockState) => Promise<T>): Promise<T> {
  let compromised: Error | undefined;
  let release: () => Promise<void>;
  try {
    release = await lock(file, {
      realpath: false,
      lockfilePath: `${file}.lock`,
      stale: STALE_MS,
      update: STALE_MS / 4,
      // ~15 s of patience in total: long enough for a queue of CLI writers, short enough to
      // report a stuck lock instead of hanging.
      retries: { retries: 80, factor: 1.2, minTimeout: 10, maxTimeout: 250, randomize: true },
      onCompromised: (err) => {
        compromised = err;
      },
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOCKED') {
      throw new KeystoreFileError('locked', file, `keystore file ${file} is locked by another process (lock ${file}.lock); try again`);
    }
    throw new KeystoreFileError('unreadable', file, `cannot lock keystore file ${file} (${code ?? (e as Error).message})`, { cause: e });
  }
  const state: LockState = {
    assertHeld() {
      if (compromised) {
        throw new KeystoreFileError('locked', file, `lost the lock on keystore file ${file} (${compromised.message}); nothing was written`);
      }
    },
  };
  try {
    return await fn(state);
  } finally {
    await release().catch(() => undefined);
  }
}
