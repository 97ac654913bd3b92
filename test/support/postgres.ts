/**
 * A real PostgreSQL cluster for one test file: initdb in a private temp dir (as the
 * postgres user when we are root), loopback only, on a free port, fsync off.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalPgCluster, type LocalPgCluster } from '../../src/providers/software/pg/pg-local-cluster.ts';

/** A running test cluster and how to remove it. */
export interface TestPg extends LocalPgCluster {
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

/** Starts a throwaway cluster. */
export async function startTestPg(): Promise<TestPg> {
  const base = await mkdtemp(join(tmpdir(), 'xks-pg-'));
  const cluster = await startLocalPgCluster(join(base, 'cluster'), { throwaway: true });
  return {
    ...cluster,
    destroy: async () => {
      await cluster.stop().catch(() => undefined);
      await rm(base, { recursive: true, force: true });
    },
  };
}
