import type { EkmHealthStatus } from '../xks/key-provider-port.ts';
import { verdictOf, type KeyStoreStatus, type StatusReport } from './status-report.ts';

/** One worker's answer to the primary (src/server/admin-views.ts). */
export type WorkerAnswer<T> = { worker: number; pid?: number; answer: T } | { worker: number; pid?: number; error: string };

const later = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a >= b ? a : b);
const RANK: Record<EkmHealthStatus, number> = { ACTIVE: 0, DEGRADED: 1, UNAVAILABLE: 2 };

function mergeKeyStore(a: KeyStoreStatus, b: KeyStoreStatus, bWorker: number): KeyStoreStatus {
  const errors = new Map<string, KeyStoreStatus['errors'][number]>(a.errors.map((e) => [`${e.errorName}/${e.status}`, { ...e }]));
  for (const e of b.errors) {
    const key = `${e.errorName}/${e.status}`;
    const seen = errors.get(key);
    if (seen === undefined) errors.set(key, { ...e });
    else errors.set(key, e.lastAt > seen.lastAt ? { ...e, count: seen.count + e.count } : { ...seen, count: seen.count + e.count });
  }
  const credentials = new Map(a.credentials.map((c) => [c.accessKeyId, { ...c }] as const));
  for (const c of b.credentials) {
    const seen = credentials.get(c.accessKeyId);
    credentials.set(
      c.accessKeyId,
      seen === undefined ? { ...c } : { ...seen, requests: seen.requests + c.requests, lastUsedAt: later(seen.lastUsedAt, c.lastUsedAt) },
    );
  }
  // A key manager is shown at its worst state among workers, naming the worker that saw it.
  const fleet = new Map(a.ekmFleet.map((e) => [e.id, { ...e }] as const));
  for (const e of b.ekmFleet) {
    const seen = fleet.get(e.id);
    if (seen === undefined || RANK[e.healthStatus] > RANK[seen.healthStatus]) {
      fleet.set(e.id, { ...e, ...(e.detail !== undefined ? { detail: `worker ${bWorker}: ${e.detail}` } : {}) });
    }
  }
  const ha = a.lastHealthCheck;
  const hb = b.lastHealthCheck;
  return {
    ...a,
    requests: { ok: a.requests.ok + b.requests.ok, error: a.requests.error + b.requests.error },
    lastRequestAt: later(a.lastRequestAt, b.lastRequestAt),
    lastSuccessAt: later(a.lastSuccessAt, b.lastSuccessAt),
    lastHealthCheck: ha === null ? hb : hb === null ? ha : hb.at > ha.at ? hb : ha,
    errors: [...errors.values()].sort((x, y) => (x.lastAt < y.lastAt ? 1 : -1)),
    credentials: [...credentials.values()],
    ekmFleet: [...fleet.values()],
  };
}

/**
 * One status view for all workers of `serve --workers N`: each worker sees only the
 * requests the shared socket handed to it, so counts are summed, times are the latest,
 * key managers are shown at their worst state, and the verdict is made from the totals.
 * `workers` lists who answered (and who did not, with why).
 */
export function mergeStatusReports(answers: ReadonlyArray<WorkerAnswer<StatusReport>>): StatusReport {
  const ok = answers.filter((a): a is Extract<WorkerAnswer<StatusReport>, { answer: StatusReport }> => 'answer' in a);
  if (ok.length === 0) throw new Error(`no worker answered: ${answers.map((a) => ('error' in a ? `worker ${a.worker}: ${a.error}` : '')).join('; ')}`);
  const first = ok[0]!.answer;
  const byPrefix = new Map(first.keyStores.map((k) => [k.prefix, k] as const));
  const unknown = new Map(first.unknownPrefixes.map((u) => [u.prefix, { ...u }] as const));
  let otherPaths = { ...first.otherPaths };
  let startedAt = first.startedAt;
  for (const { worker, answer } of ok.slice(1)) {
    for (const ks of answer.keyStores) {
      const seen = byPrefix.get(ks.prefix);
      byPrefix.set(ks.prefix, seen === undefined ? ks : mergeKeyStore(seen, ks, worker));
    }
    for (const u of answer.unknownPrefixes) {
      const seen = unknown.get(u.prefix);
      unknown.set(u.prefix, seen === undefined ? { ...u } : { prefix: u.prefix, count: seen.count + u.count, lastAt: later(seen.lastAt, u.lastAt)! });
    }
    const newer = (answer.otherPaths.lastAt ?? '') > (otherPaths.lastAt ?? '');
    otherPaths = {
      ...(newer ? answer.otherPaths : otherPaths),
      count: otherPaths.count + answer.otherPaths.count,
      lastAt: later(otherPaths.lastAt, answer.otherPaths.lastAt),
    };
    if (answer.startedAt < startedAt) startedAt = answer.startedAt;
  }
  const now = new Date(first.generatedAt);
  const unknownPrefixes = [...unknown.values()];
  const keyStores = [...byPrefix.values()].map((ks) => ({
    ...ks,
    verdict: verdictOf(
      ks,
      Date.parse(startedAt),
      unknownPrefixes.map((u) => u.prefix),
      now,
    ),
  }));
  return {
    ...first,
    startedAt,
    uptimeSeconds: Math.max(...ok.map((a) => a.answer.uptimeSeconds)),
    keyStores,
    unknownPrefixes,
    otherPaths,
    workers: answers.map((a) =>
      'answer' in a
        ? {
            worker: a.worker,
            ...(a.pid !== undefined ? { pid: a.pid } : {}),
            requests: a.answer.keyStores.reduce((n, k) => n + k.requests.ok + k.requests.error, 0),
          }
        : { worker: a.worker, ...(a.pid !== undefined ? { pid: a.pid } : {}), error: a.error },
    ),
  };
}
