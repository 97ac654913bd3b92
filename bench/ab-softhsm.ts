/**
 * Interleaved A/B of two proxy bundles on SoftHSM2 (the `softhsm` bench target), with the
 * pkcs11 work ceiling as a third target: each round runs A, B, C (reversed every other
 * round), closed loop, and reports server CPU per request from /proc, the robust figure
 * on a shared machine. Bundles are built by the caller, e.g.
 *   git stash; npm run build && cp dist/xks-proxy.mjs dist/ab-a.mjs; git stash pop
 *   npm run build && cp dist/xks-proxy.mjs dist/ab-b.mjs
 * (they must live in dist/ so they find node_modules and package.json).
 * Run: npx tsx bench/ab-softhsm.ts dist/ab-a.mjs dist/ab-b.mjs [rounds=5] [seconds=4] [--cpu-prof]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runClosedLoop, type ClosedLoopResult } from './closed-loop.ts';
import { createSoftHsmBench, type SoftHsmBench } from './fixtures/softhsm-fixture.ts';
import { BENCH_TENANT } from './fixtures/software-fixture.ts';
import { median } from './interleaved.ts';
import { startServer, type ServerProcess } from './server-process.ts';
import { XksWorkload } from './xks-workload.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const cpuProf = process.argv.includes('--cpu-prof');
const noCeiling = process.argv.includes('--no-ceiling');
const [bundleA, bundleB, roundsArg = '5', secondsArg = '4'] = args;
if (bundleA === undefined || bundleB === undefined) throw new Error('usage: ab-softhsm.ts A.mjs B.mjs [rounds] [seconds] [--cpu-prof] [--no-ceiling]');
const rounds = Number(roundsArg);
const seconds = Number(secondsArg);

const dir = await mkdtemp(join(tmpdir(), 'xks-ab-'));
const fixtures: SoftHsmBench[] = [];
const servers: ServerProcess[] = [];
try {
  // One token for all: SoftHSM2 reads its config once per process, so a second fixture here would not load.
  let fixture: SoftHsmBench | undefined;
  async function shared(): Promise<SoftHsmBench> {
    if (fixture !== undefined) return fixture;
    const made = await createSoftHsmBench(dir, 'info', 8);
    if (typeof made === 'string') throw new Error(made);
    fixtures.push(made);
    fixture = made;
    return made;
  }
  async function proxy(name: string, bundle: string): Promise<{ server: ServerProcess; w: XksWorkload }> {
    const fixture = await shared();
    const server = await startServer({
      name,
      script: bundle,
      nodeArgs: ['--enable-source-maps', ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'prof')}`, `--cpu-prof-name=${name}.cpuprofile`] : [])],
      args: ['serve', '--config', fixture.configPath, '--workers', '1'],
      env: fixture.proxyEnv,
      logDir: dir,
      readyMsg: 'xks-proxy listening',
    });
    servers.push(server);
    const w = new XksWorkload(fixture.target(server.url), { plaintextBytes: 256, aadBytes: 64 });
    await w.prepare();
    return { server, w };
  }
  async function ceiling(): Promise<{ server: ServerProcess; w: XksWorkload }> {
    const fixture = await shared();
    const server = await startServer({
      name: 'pkcs11-work-ceiling',
      script: 'bench/servers/work-ceiling-server.ts',
      args: ['0', BENCH_TENANT.region, BENCH_TENANT.accessKeyId, 'pkcs11', '8'],
      env: { ...fixture.ceilingEnv, XKS_BENCH_SIGV4_SECRET: BENCH_TENANT.secret },
      logDir: dir,
      readyMsg: 'bench server listening',
    });
    servers.push(server);
    const w = new XksWorkload({ url: server.url, ...BENCH_TENANT, keyId: 'foo' }, { plaintextBytes: 256, aadBytes: 64 });
    await w.prepare();
    return { server, w };
  }
  const targets = [
    { name: 'A', ...(await proxy('A', bundleA)) },
    { name: 'B', ...(await proxy('B', bundleB)) },
    ...(noCeiling ? [] : [{ name: 'C', ...(await ceiling()) }]),
  ];
  const results = new Map<string, ClosedLoopResult[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const r = await runClosedLoop(t.server, () => t.w.requests(), { connections: 32, durationS: seconds, warmupS: round === 0 ? 3 : 0.5 });
      results.get(t.name)!.push(r);
      const us = (r.serverCpuCores / r.rps) * 1e6;
      process.stderr.write(`round ${round + 1} ${t.name}: ${r.rps.toFixed(0)} req/s, ${us.toFixed(0)} us CPU/req, errors ${r.errors}\n`);
    }
  }
  for (const [name, rs] of results) {
    const us = rs.map((r) => (r.serverCpuCores / r.rps) * 1e6);
    console.log(
      `${name}: median ${median(us).toFixed(0)} us CPU/req (${us.map((u) => u.toFixed(0)).join(', ')}), median ${median(rs.map((r) => r.rps)).toFixed(0)} req/s`,
    );
  }
} finally {
  for (const s of servers) await s.stop();
  for (const f of fixtures) await f.cleanup();
  if (cpuProf) console.log(`profiles in ${join(dir, 'prof')} (dir kept)`);
  else await rm(dir, { recursive: true, force: true });
}
