/**
 * PKCS#11 micro-benchmark on a throw-away SoftHSM2 token: AES-256-GCM encrypt+decrypt
 * round trips per second, latency percentiles and event-loop delay for
 *   1. pkcs11js sync API on one session (the blocking baseline),
 *   2. pkcs11js async API (C_EncryptAsync / C_DecryptAsync), N sessions each looping,
 *   3. the pkcs11 provider (pool of N sessions) with N concurrent callers,
 * at each concurrency N given. Nothing else runs: compare the rows with each other.
 * Run: npx tsx bench/pkcs11-direct.ts [--seconds 5] [--concurrency 1,4,8,32] [--bytes 4096] [--aad 64]
 * UV_THREADPOOL_SIZE (libuv threads that run the async calls) defaults to 16 here.
 */
// Must be set before the first libuv thread-pool job; nothing above has queued one yet.
process.env.UV_THREADPOOL_SIZE ??= '16';

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import pino from 'pino';
import type * as Pkcs11js from 'pkcs11js';
import { withPkcs11AdminSession } from '../src/providers/pkcs11/pkcs11-admin-session.ts';
import { pkcs11ProviderConfigSchema } from '../src/providers/pkcs11/pkcs11-config.ts';
import { generatePkcs11AesKey } from '../src/providers/pkcs11/pkcs11-key-admin.ts';
import { createPkcs11Provider } from '../src/providers/pkcs11/pkcs11-provider.ts';
import { callContextWithin } from '../src/xks/call-context.ts';
import { findSoftHsmModule, initSoftHsmToken, writeSoftHsmConfig } from '../src/providers/pkcs11/pkcs11-softhsm.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,4,8,32' },
    bytes: { type: 'string', default: '4096' },
    aad: { type: 'string', default: '64' },
  },
});
const seconds = Number(values.seconds);
const levels = String(values.concurrency).split(',').map(Number);
const plaintext = randomBytes(Number(values.bytes));
const aad = randomBytes(Number(values.aad));

const require = createRequire(import.meta.url);
const pkcs11js = require('pkcs11js') as typeof Pkcs11js;

interface Row {
  name: string;
  n: number;
  rps: number;
  p50: number;
  p99: number;
  loopP99: number;
  loopMax: number;
}

/** Runs `loops` loops of `roundTrip` for `ms`; latency in ms, event-loop delay in ms. */
async function measure(name: string, n: number, ms: number, loops: number, roundTrip: (loop: number) => Promise<void>): Promise<Row> {
  const lat = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: 3 });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let done = 0;
  const end = performance.now() + ms;
  loop.enable();
  await Promise.all(
    Array.from({ length: loops }, async (_, i) => {
      while (performance.now() < end) {
        const t = performance.now();
        await roundTrip(i);
        lat.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
        done += 1;
      }
    }),
  );
  loop.disable();
  return {
    name,
    n,
    rps: done / (ms / 1000),
    p50: lat.getValueAtPercentile(50) / 1000,
    p99: lat.getValueAtPercentile(99) / 1000,
    loopP99: loop.percentile(99) / 1e6,
    loopMax: loop.max / 1e6,
  };
}

const modulePath = findSoftHsmModule();
if (modulePath === undefined) throw new Error('SoftHSM2 is not installed (apt-get install softhsm2)');
const dir = await mkdtemp(join(tmpdir(), 'xks-bench-pkcs11-'));
try {
  const confPath = await writeSoftHsmConfig(dir);
  process.env.SOFTHSM2_CONF = confPath;
  process.env.BENCH_PIN = randomBytes(6).toString('hex');
  await initSoftHsmToken(confPath, { label: 'bench', soPin: randomBytes(6).toString('hex'), userPin: process.env.BENCH_PIN });
  const target = {
    modulePath,
    selector: { label: 'bench' },
    pin: { tokenName: 'bench', pinRef: 'env:BENCH_PIN', field: 'pin', configDir: dir, env: process.env },
  };
  await withPkcs11AdminSession(target, (api, s) => {
    generatePkcs11AesKey(api, s, 'bench-key', { encrypt: true, decrypt: true });
    generatePkcs11AesKey(api, s, 'xks-health-canary', { encrypt: true, decrypt: true });
  });

  // Direct pkcs11js: its own handle on the library, as a program without the provider would use it.
  const p = new pkcs11js.PKCS11();
  p.load(modulePath);
  p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === 'bench') as Buffer;
  const maxN = Math.max(...levels);
  const sessions = Array.from({ length: maxN }, () => p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION));
  p.C_Login(sessions[0] as Buffer, pkcs11js.CKU_USER, process.env.BENCH_PIN);
  p.C_FindObjectsInit(sessions[0] as Buffer, [{ type: pkcs11js.CKA_LABEL, value: 'bench-key' }]);
  const key = p.C_FindObjects(sessions[0] as Buffer, 1)[0] as Buffer;
  p.C_FindObjectsFinal(sessions[0] as Buffer);
  const gcm = (iv: Buffer): Pkcs11js.Mechanism => ({
    mechanism: pkcs11js.CKM_AES_GCM,
    parameter: { type: pkcs11js.CK_PARAMS_GCM, iv, ivBits: 96, aad, tagBits: 128 } as Pkcs11js.IParams,
  });
  const out = (): Buffer => Buffer.alloc(plaintext.length + 16);

  const rows: Row[] = [];
  const warm = 300;
  const syncRoundTrip = async (): Promise<void> => {
    const s = sessions[0] as Buffer;
    const iv = randomBytes(12);
    p.C_EncryptInit(s, gcm(iv), key);
    const sealed = Buffer.from(p.C_Encrypt(s, plaintext, out()));
    p.C_DecryptInit(s, gcm(iv), key);
    p.C_Decrypt(s, sealed, out());
    // Yield so timers (and the delay monitor) get a turn between blocking calls.
    await new Promise((r) => setImmediate(r));
  };
  await measure('warm-up', 1, warm, 1, syncRoundTrip);
  rows.push(await measure('pkcs11js sync, 1 session', 1, seconds * 1000, 1, syncRoundTrip));

  const asyncRoundTrip = async (loop: number): Promise<void> => {
    const s = sessions[loop] as Buffer;
    const iv = randomBytes(12);
    p.C_EncryptInit(s, gcm(iv), key);
    const sealed = Buffer.from(await p.C_EncryptAsync(s, plaintext, out()));
    p.C_DecryptInit(s, gcm(iv), key);
    await p.C_DecryptAsync(s, sealed, out());
  };
  for (const n of levels) {
    await measure('warm-up', n, warm, n, asyncRoundTrip);
    rows.push(await measure('pkcs11js async, N sessions', n, seconds * 1000, n, asyncRoundTrip));
  }

  for (const n of levels) {
    const provider = createPkcs11Provider(
      pkcs11ProviderConfigSchema.parse({ type: 'pkcs11', module: modulePath, pin: 'env:BENCH_PIN', tokens: [{ label: 'bench' }], sessionsPerToken: n }),
      { logger: pino({ level: 'silent' }), configDir: dir, env: process.env },
    );
    await provider.init();
    const k = { keyId: 'bench-key', version: 0 };
    // As the server makes it: its AbortSignal (a timer) exists only if read, and the PKCS#11
    // provider never reads it, so Node's timers are not measured here.
    const ctx = () => callContextWithin(1000);
    const providerRoundTrip = async (): Promise<void> => {
      const sealed = await provider.encrypt(k, plaintext, aad, ctx());
      await provider.decrypt(k, sealed, aad, ctx());
    };
    await measure('warm-up', n, warm, n, providerRoundTrip);
    rows.push(await measure('provider, pool of N', n, seconds * 1000, n, providerRoundTrip));
    await provider.close();
  }
  for (const s of sessions) p.C_CloseSession(s);

  const cols = ['what', 'N', 'round trips/s', 'p50 ms', 'p99 ms', 'loop p99 ms', 'loop max ms'];
  const table = [
    cols,
    ...rows.map((r) => [r.name, String(r.n), r.rps.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), r.loopP99.toFixed(2), r.loopMax.toFixed(2)]),
  ];
  const widths = cols.map((_, c) => Math.max(...table.map((r) => (r[c] as string).length)));
  console.log(
    `AES-256-GCM encrypt+decrypt of ${plaintext.length} B (AAD ${aad.length} B), ${seconds} s per row, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE}`,
  );
  for (const r of table) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join('  '));
} finally {
  await rm(dir, { recursive: true, force: true });
}
