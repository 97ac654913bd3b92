import cluster, { type Worker } from 'node:cluster';
import type { StatusReport } from '../diagnostics/status-report.ts';
import { mergeStatusReports, type WorkerAnswer } from '../diagnostics/status-merge.ts';
import type { AdminViews } from './admin-server.ts';

/** What the primary asks a worker, and what the worker answers (node:cluster IPC). */
export interface AdminQuery {
  type: 'xks-proxy:admin-query';
  id: number;
  what: 'ready' | 'status';
}
interface AdminAnswerMessage {
  type: 'xks-proxy:admin-answer';
  id: number;
  answer?: unknown;
  error?: string;
}

/** How long the primary waits for a worker's view: a worker this slow is reported as such. */
const WORKER_ANSWER_MS = 5_000;

export function isAdminQuery(m: unknown): m is AdminQuery {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'xks-proxy:admin-query';
}

function isAdminAnswer(m: unknown): m is AdminAnswerMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'xks-proxy:admin-answer';
}

/** A worker answers the primary's admin queries from its own views. */
export function answerAdminQueries(views: AdminViews): void {
  process.on('message', (m: unknown) => {
    if (!isAdminQuery(m)) return;
    views[m.what]().then(
      (answer) => process.send?.({ type: 'xks-proxy:admin-answer', id: m.id, answer } satisfies AdminAnswerMessage),
      (e: unknown) => process.send?.({ type: 'xks-proxy:admin-answer', id: m.id, error: (e as Error).message } satisfies AdminAnswerMessage),
    );
  });
}

/**
 * The primary's admin views under `serve --workers N`: each question goes to every live
 * worker over the cluster IPC channel and the answers are combined, so /status and /ready
 * describe the whole proxy and not whichever worker the shared socket picked (issue 21
 * item 2). `slotOf` maps a cluster worker to its slot (the `worker` of its log lines).
 */
export function clusterAdminViews(slotOf: (w: Worker) => number | undefined): AdminViews {
  let nextId = 0;
  const ask = async (what: AdminQuery['what']): Promise<Array<WorkerAnswer<unknown>>> => {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead() && w.isConnected());
    const answers = await Promise.all(
      workers.map(
        (w) =>
          new Promise<WorkerAnswer<unknown>>((resolve) => {
            const id = ++nextId;
            const worker = slotOf(w) ?? w.id - 1;
            const pid = w.process.pid;
            const done = (a: WorkerAnswer<unknown>): void => {
              clearTimeout(timer);
              w.off('message', onMessage);
              resolve(a);
            };
            const onMessage = (m: unknown): void => {
              if (!isAdminAnswer(m) || m.id !== id) return;
              done(m.error !== undefined ? { worker, pid, error: m.error } : { worker, pid, answer: m.answer });
            };
            const timer = setTimeout(() => done({ worker, pid, error: `no answer within ${WORKER_ANSWER_MS} ms` }), WORKER_ANSWER_MS);
            w.on('message', onMessage);
            w.send({ type: 'xks-proxy:admin-query', id, what } satisfies AdminQuery);
          }),
      ),
    );
    return answers.sort((a, b) => a.worker - b.worker);
  };
  return {
    async ready() {
      const answers = await ask('ready');
      const workers = answers.map((a) =>
        'answer' in a ? { worker: a.worker, pid: a.pid, ...(a.answer as object) } : { worker: a.worker, pid: a.pid, ready: false, error: a.error },
      );
      const ready = workers.length > 0 && workers.every((w) => (w as { ready?: unknown }).ready === true);
      return { ready, workers };
    },
    async status() {
      return mergeStatusReports((await ask('status')) as Array<WorkerAnswer<StatusReport>>);
    },
  };
}
