/**
 * `serve --workers 2`: the workers together admit what a rate limit says (not twice that),
 * and a worker has one number everywhere: `worker` in its log lines, the suffix of its
 * audit file and the offset of its metrics port.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoKeystore } from '../../src/providers/software/software-demo-setup.ts';
import { startServing, type ServingProcess } from '../support/cli-process.ts';
import { makeTempDir } from '../support/software-keystore-fixture.ts';
import { DEMO_CREDENTIAL, DEMO_PREFIX, healthOnNewConnection } from '../support/xks-client.ts';

let dir: string;
let cleanup: () => Promise<void>;
let proxy: ServingProcess;
const BURST = 3;

/** A free loopback port pair base for the two workers' metrics listeners. */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await Promise.all(
      [base, base + 1].map(
        (p) =>
          new Promise<boolean>((r) => {
            const s = http
              .createServer()
              .once('error', () => r(false))
              .listen(p, '127.0.0.1', () => s.close(() => r(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port pair');
}

let metricsPort: number;

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir());
  const kek = randomBytes(32).toString('hex');
  await ensureDemoKeystore(join(dir, 'keystore.json'), { kek });
  metricsPort = await freePortPair();
  await writeFile(
    join(dir, 'config.yaml'),
    [
      'server: { host: 127.0.0.1, port: 0 }',
      'logging: { level: info, pretty: false }',
      // A burst with (practically) no refill: what gets through is the burst itself.
      `rateLimit: { requestsPerSecond: 0.001, burst: ${BURST} }`,
      `metrics: { host: 127.0.0.1, port: ${metricsPort} }`,
      'audit: { file: audit.jsonl }',
      'keyStores:',
      `  - prefix: ${DEMO_PREFIX}`,
      '    credentials:',
      `      - { accessKeyId: ${DEMO_CREDENTIAL.accessKeyId}, secretAccessKey: ${DEMO_CREDENTIAL.secretAccessKey} }`,
      `    provider: { type: software, path: keystore.json, kek: ${kek} }`,
      '',
    ].join('\n'),
  );
  proxy = await startServing(['serve', '--config', join(dir, 'config.yaml'), '--workers', '2'], {}, 90_000);
}, 120_000);

afterAll(async () => {
  if (proxy?.child.exitCode === null) await proxy.stop();
  await cleanup?.();
});

const health = (): Promise<number> => healthOnNewConnection(proxy.url);

describe('serve --workers 2', () => {
  it('admits the configured burst across both workers together, not once per worker', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4 * BURST; i++) statuses.push(await health());
    const admitted = statuses.filter((s) => s === 200).length;
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(admitted).toBeLessThanOrEqual(BURST);
    expect(admitted).toBeGreaterThanOrEqual(BURST - 1);
  }, 60_000);

  it('numbers each worker the same in its log lines, its audit file and its metrics port', async () => {
    const logged = new Set<number>();
    for (const line of proxy.output().split('\n')) {
      if (!line.includes('"msg":"xks request"')) continue;
      logged.add((JSON.parse(line) as { worker: number }).worker);
    }
    expect([...logged].sort()).toEqual([0, 1]);
    const auditFiles = (await readdir(dir)).filter((f) => f.startsWith('audit.')).sort();
    expect(auditFiles).toEqual(['audit.w0.jsonl', 'audit.w1.jsonl']);
    for (const slot of [0, 1]) {
      const res = await fetch(`http://127.0.0.1:${metricsPort + slot}/metrics`);
      expect(res.status).toBe(200);
    }
  }, 60_000);
});
