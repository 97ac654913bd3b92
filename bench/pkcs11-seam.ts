/**
 * The PKCS#11 provider as the key store calls it, against the pkcs11 work ceiling's own
 * cipher (bench/servers/work-ceiling-server.ts: pkcs11js on a pool of sessions), with no
 * HTTP: CPU per request (process.cpuUsage, all threads, SoftHSM2's included) for the
 * bench's request mix (Encrypt = encrypt + verification decrypt, Decrypt = decrypt; the
 * provider also answers the key store's describe first), `--loops` concurrent callers.
 * Targets alternate in rounds; each line gives the median over the rounds.
 * Run: npx tsx bench/pkcs11-seam.ts [--root DIR] [--rounds 6] [--seconds 2] [--loops 32] [--sessions 8]
 * `--root` loads the provider from another checkout's src/ (an A/B of two trees in one process).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import pino from 'pino';
import type * as Pkcs11js from 'pkcs11js';
import { createSoftHsmBench, type SoftHsmBench } from './fixtures/softhsm-fixture.ts';
import { median } from './interleaved.ts';
import { callContextWithin } from '../src/xks/call-context.ts';
import { sessionQueue } from './ceilings/session-queue.ts';

const pkcs11js = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11js;
const { values } = parseArgs({
  options: {
    root: { type: 'string', multiple: true, default: ['.'] },
    rounds: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '2' },
    loops: { type: 'string', default: '32' },
    sessions: { type: 'string', default: '8' },
    'no-ceiling': { type: 'boolean', default: false },
    /** Also the ceiling cipher with pkcs11js's synchronous C_Encrypt / C_Decrypt (on the event loop). */
    sync: { type: 'boolean', default: false },
  },
});
const loops = Number(values.loops);
const sessions = Number(values.sessions);
const plaintext = randomBytes(256);
const aad = randomBytes(100); // about the spec AAD for 64 bytes of customer AAD

interface Cipher {
  name: string;
  encrypt(): Promise<void>;
  decrypt(): Promise<void>;
}

const dir = await mkdtemp(join(tmpdir(), 'xks-seam-'));
const made = await createSoftHsmBench(dir, 'info', sessions);
if (typeof made === 'string') throw new Error(made);
const fixture: SoftHsmBench = made;
Object.assign(process.env, fixture.ceilingEnv);

/** As bench/ceilings/pkcs11-bench-token.ts, on the library this process already initialized (the fixture's). */
function openToken(): { p: Pkcs11js.PKCS11; sessions: Buffer[]; key: Buffer; gcm: (iv: Buffer, aad: Buffer) => Pkcs11js.Mechanism } {
  const env = fixture.ceilingEnv as Record<string, string>;
  const p = new pkcs11js.PKCS11();
  p.load(env.PKCS11_MODULE!);
  try {
    p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    if ((e as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw e;
  }
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === env.PKCS11_TOKEN_LABEL);
  if (slot === undefined) throw new Error('token not found');
  const all = Array.from({ length: sessions }, () => p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
  try {
    p.C_Login(all[0]!, pkcs11js.CKU_USER, env.PKCS11_PIN);
  } catch (e) {
    if ((e as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw e;
  }
  p.C_FindObjectsInit(all[0]!, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_LABEL, value: env.PKCS11_KEY_LABEL! },
  ]);
  const [key] = p.C_FindObjects(all[0]!, 1);
  p.C_FindObjectsFinal(all[0]!);
  if (key === undefined) throw new Error('key not found');
  return {
    p,
    sessions: all,
    key,
    gcm: (iv, aad) => ({
      mechanism: pkcs11js.CKM_AES_GCM,
      parameter: { type: pkcs11js.CK_PARAMS_GCM, iv, ivBits: 96, aad, tagBits: 128 } as Pkcs11js.IParams,
    }),
  };
}

async function ceiling(sync: boolean): Promise<Cipher> {
  const { p, sessions: all, key, gcm } = openToken();
  const withSession = sessionQueue(all);
  const enc = (iv: Buffer) =>
    withSession(async (session) => {
      p.C_EncryptInit(session, gcm(iv, aad), key);
      const out = sync
        ? p.C_Encrypt(session, plaintext, Buffer.alloc(plaintext.length + 16))
        : await p.C_EncryptAsync(session, plaintext, Buffer.alloc(plaintext.length + 16));
      return { ciphertext: out.subarray(0, out.length - 16), tag: out.subarray(out.length - 16) };
    });
  const dec = (iv: Buffer, ciphertext: Buffer, tag: Buffer) =>
    withSession(async (session) => {
      p.C_DecryptInit(session, gcm(iv, aad), key);
      return sync
        ? p.C_Decrypt(session, Buffer.concat([ciphertext, tag]), Buffer.alloc(ciphertext.length + 16))
        : p.C_DecryptAsync(session, Buffer.concat([ciphertext, tag]), Buffer.alloc(ciphertext.length + 16));
    });
  const sealedIv = randomBytes(12);
  const sealed = await enc(sealedIv);
  const { randomIv } = await import('../src/providers/random-iv.ts');
  return {
    name: sync ? 'ceiling cipher, sync calls' : 'ceiling cipher',
    async encrypt() {
      const iv = randomIv();
      const out = await enc(iv);
      await dec(iv, out.ciphertext, out.tag);
    },
    async decrypt() {
      await dec(sealedIv, sealed.ciphertext, sealed.tag);
    },
  };
}

async function provider(root: string, name: string): Promise<Cipher> {
  const src = (path: string): Promise<unknown> => import(pathToFileURL(resolve(root, 'src', path)).href);
  const { pkcs11ProviderConfigSchema } = (await src('providers/pkcs11/pkcs11-config.ts')) as typeof import('../src/providers/pkcs11/pkcs11-config.ts');
  const { createPkcs11Provider } = (await src('providers/pkcs11/pkcs11-provider.ts')) as typeof import('../src/providers/pkcs11/pkcs11-provider.ts');
  const { GuardedProvider } = (await src('providers/guarded-provider.ts')) as typeof import('../src/providers/guarded-provider.ts');
  const logger = pino({ level: 'silent' });
  const config = pkcs11ProviderConfigSchema.parse({
    type: 'pkcs11',
    module: fixture.ceilingEnv.PKCS11_MODULE,
    pin: 'env:PKCS11_PIN',
    tokens: [{ label: fixture.ceilingEnv.PKCS11_TOKEN_LABEL }],
    sessionsPerToken: sessions,
  });
  const p = new GuardedProvider(createPkcs11Provider(config, { logger, configDir: dir, env: process.env }), logger);
  await p.init();
  const keyId = fixture.ceilingEnv.PKCS11_KEY_LABEL as string;
  // As the server makes it, with a longer budget than 250 ms: a stall of this shared machine must not end the run.
  const budget = () => callContextWithin(2000);
  const sealed = await p.encrypt({ keyId, version: 0 }, plaintext, aad, budget());
  return {
    name,
    async encrypt() {
      const ctx = budget();
      // As LocalKeyStore asks: at once when the provider can answer from its cache (a tree without describeNow falls back).
      const info = p.describeNow?.(keyId, ctx) ?? (await p.describe(keyId, ctx));
      const key = { keyId, version: info.currentVersion };
      const out = await p.encrypt(key, plaintext, aad, ctx);
      await p.decrypt(key, out, aad, ctx);
    },
    async decrypt() {
      const ctx = budget();
      const info = p.describeNow?.(keyId, ctx) ?? (await p.describe(keyId, ctx));
      await p.decrypt({ keyId, version: info.currentVersion }, sealed, aad, ctx);
    },
  };
}

let errors = 0;
/** CPU time of the main thread alone (ns, /proc schedstat): where the provider's own code runs. */
function mainThreadNs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
}
/** Runs the mix on `loops` callers for `ms`; CPU microseconds per request. */
async function measure(c: Cipher, ms: number): Promise<{ us: number; mainUs: number; rps: number }> {
  let done = 0;
  const cpu = process.cpuUsage();
  const main = mainThreadNs();
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: loops }, async (_, i) => {
      let n = i;
      while (performance.now() < end) {
        try {
          await (n++ % 2 === 0 ? c.encrypt() : c.decrypt());
          done += 1;
        } catch {
          errors += 1; // a stall of the shared machine past the budget; counted, not fatal
        }
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { us: (used.user + used.system) / done, mainUs: (mainThreadNs() - main) / 1000 / done, rps: done / ((performance.now() - start) / 1000) };
}

try {
  const targets: Cipher[] = [];
  if (!values['no-ceiling']) targets.push(await ceiling(false));
  if (values.sync) targets.push(await ceiling(true));
  for (const [i, root] of values.root.entries()) targets.push(await provider(root, `provider ${String.fromCharCode(65 + i)} (${root})`));
  for (const t of targets) await measure(t, 1000); // warm-up
  const results = new Map<Cipher, { us: number; mainUs: number; rps: number }[]>(targets.map((t) => [t, []]));
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const t of round % 2 === 0 ? targets : [...targets].reverse()) results.get(t)!.push(await measure(t, Number(values.seconds) * 1000));
  }
  if (errors > 0) console.log(`${errors} calls failed (deadline passed on a stalled machine)`);
  for (const [t, rs] of results) {
    console.log(
      `${t.name.padEnd(40)} ${median(rs.map((r) => r.us)).toFixed(1)} us CPU/req (${rs.map((r) => r.us.toFixed(0)).join(' ')}), ` +
        `main thread ${median(rs.map((r) => r.mainUs)).toFixed(1)} us (${rs.map((r) => r.mainUs.toFixed(0)).join(' ')}), ${median(rs.map((r) => r.rps)).toFixed(0)} req/s`,
    );
  }
} finally {
  await fixture.cleanup();
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
