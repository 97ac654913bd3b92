import cluster from 'node:cluster';
import { extname } from 'node:path';

/**
 * This process's slot when it is a `serve --workers N` worker (0..N-1), else undefined.
 * The primary passes a stable slot in XKS_PROXY_WORKER_SLOT (a replacement worker gets the
 * slot of the one it replaces); without it the cluster worker id stands in.
 */
export function workerSlot(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (!cluster.isWorker) return undefined;
  const slot = env.XKS_PROXY_WORKER_SLOT;
  if (slot !== undefined && /^\d{1,4}$/.test(slot)) return Number(slot);
  return Math.max(0, (cluster.worker?.id ?? 1) - 1);
}

/**
 * The file a worker writes instead of a shared one: `audit.jsonl` -> `audit.w1.jsonl`.
 * One hash chain needs one writer; workers sharing a file would interleave their chains.
 */
export function perWorkerFile(file: string, slot: number | undefined): string {
  if (slot === undefined) return file;
  const ext = extname(file);
  return ext === '' ? `${file}.w${slot}` : `${file.slice(0, -ext.length)}.w${slot}${ext}`;
}

/**
 * The metrics port of a worker: the configured port plus its slot, each bound by that
 * worker alone (a shared cluster socket would hand every scrape to a random worker).
 */
export function perWorkerPort(port: number, slot: number | undefined): number {
  return slot === undefined || port === 0 ? port : port + slot;
}

/**
 * How many workers share the listening socket: the primary passes it in
 * XKS_PROXY_WORKERS; 1 outside a cluster.
 */
export function workerCount(env: NodeJS.ProcessEnv = process.env): number {
  if (!cluster.isWorker) return 1;
  const n = env.XKS_PROXY_WORKERS;
  return n !== undefined && /^\d{1,4}$/.test(n) && Number(n) > 0 ? Number(n) : 1;
}
