/**
 * The Dockerfile cannot be built here (no Docker engine), so this test does what the
 * image does, outside a container: it reads the final stage of the real Dockerfile, copies
 * exactly what it COPYs into a temp "image root", runs its `npm ci --omit=dev` (from the
 * npm cache where it can), starts its ENTRYPOINT + CMD with its ENV as its unprivileged user
 * (when the test runs as root), and runs its HEALTHCHECK command against the process.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, cp, mkdir, readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoKeystore } from '../../src/providers/software/software-demo-setup.ts';
import { createTestPki, type TestPki } from '../support/tls-certs.ts';
import { DEMO_CREDENTIAL, DEMO_PREFIX, encryptCall } from './ops-fixture.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** One instruction of a Dockerfile, continuation lines joined. */
interface Instruction {
  keyword: string;
  args: string;
}

/** Splits a Dockerfile into instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const m = /^(\S+)\s*(.*)$/s.exec(current)!;
    out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim() });
    current = '';
  }
  return out;
}

/** The instructions of the last stage (the image that runs). */
function finalStage(all: Instruction[]): Instruction[] {
  const lastFrom = all.map((i) => i.keyword).lastIndexOf('FROM');
  return all.slice(lastFrom);
}

/** The stage a FROM names, e.g. `base` for `FROM node:20 AS base`. */
function stageNamed(all: Instruction[], name: string): Instruction[] {
  const start = all.findIndex((i) => i.keyword === 'FROM' && new RegExp(`\\sAS\\s+${name}$`, 'i').test(i.args));
  const end = all.findIndex((i, n) => n > start && i.keyword === 'FROM');
  return all.slice(start, end === -1 ? undefined : end);
}

/** ENV instructions as a map (KEY=value pairs, unquoted values as the Dockerfile uses). */
function envOf(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.filter((x) => x.keyword === 'ENV')) {
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) env[m[1]!] = m[2]!;
  }
  return env;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number; timeout?: number },
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { ...opts, timeout: opts.timeout ?? 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

const all = parseDockerfile(await readFile(join(REPO, 'Dockerfile'), 'utf8'));
const final = finalStage(all);
const base = stageNamed(all, 'base');
const json = (keyword: string): string[] => JSON.parse(final.find((i) => i.keyword === keyword)!.args) as string[];

describe('Dockerfile (static)', () => {
  it('is multi-stage and installs only production dependencies in the final stage', () => {
    expect(all.filter((i) => i.keyword === 'FROM').length).toBeGreaterThanOrEqual(2);
    expect(final.filter((i) => i.keyword === 'RUN').some((i) => /npm ci --omit=dev/.test(i.args))).toBe(true);
    expect(final.filter((i) => i.keyword === 'RUN').every((i) => !/npm (ci|install)(?!.*--omit=dev)/.test(i.args))).toBe(true);
  });

  it('runs as an unprivileged user created in the base stage', () => {
    const user = final.filter((i) => i.keyword === 'USER').at(-1)!.args;
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const name = user.split(':')[0]!;
    expect(base.some((i) => i.keyword === 'RUN' && new RegExp(`useradd .*--uid (\\d+) .*\\b${name}\\b`).test(i.args))).toBe(true);
  });

  it('declares config and data volumes, a /ping health check and a SoftHSM build argument', () => {
    expect(final.find((i) => i.keyword === 'VOLUME')!.args).toBe('["/etc/xks-proxy", "/var/lib/xks-proxy"]');
    const health = final.find((i) => i.keyword === 'HEALTHCHECK')!.args;
    expect(health).toMatch(/^--interval=\d+s .*CMD \[/);
    expect(envOf(final).XKS_HEALTHCHECK_URL).toMatch(/\/ping$/);
    expect(all.some((i) => i.keyword === 'ARG' && i.args.startsWith('WITH_SOFTHSM'))).toBe(true);
    expect(base.find((i) => i.keyword === 'RUN')!.args).toContain('softhsm2');
  });

  it('bakes in no secret and keeps key material out of the build context', async () => {
    for (const i of all.filter((x) => x.keyword === 'ENV' || x.keyword === 'ARG')) {
      expect(i.args).not.toMatch(/(SECRET|PASSPHRASE|PASSWORD|PIN|TOKEN)[A-Z_]*=/i);
    }
    expect(all.some((i) => /BEGIN [A-Z ]*PRIVATE KEY|PleaseReplaceThisWithSomeSecret/.test(i.args))).toBe(false);
    const ignore = (await readFile(join(REPO, '.dockerignore'), 'utf8')).split('\n');
    for (const pattern of ['**/*.key', '**/*.pem', '**/secrets', '.env', 'data', 'node_modules']) expect(ignore).toContain(pattern);
  });
});

describe('the image, run outside a container', () => {
  let root: string;
  let pki: TestPki;
  let child: ChildProcess | undefined;
  let output = '';
  let env: NodeJS.ProcessEnv;
  let port: number;
  const asRoot = process.getuid?.() === 0;
  const uid = 10001;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'xks-image-'));
    await chmod(root, 0o755);
    const app = join(root, 'app');
    await mkdir(app, { recursive: true });
    // COPY <src...> <dest> of the final stage (not --from), relative to WORKDIR /app.
    for (const i of final.filter((x) => x.keyword === 'COPY' && !x.args.startsWith('--from'))) {
      const parts = i.args.split(/\s+/);
      const dest = parts.pop()!;
      for (const src of parts) await cp(join(REPO, src), dest === './' ? join(app, src) : join(app, dest.replace(/^\.\//, '')), { recursive: true });
    }
    // COPY --from=verify of the bundle: built here the way the verify stage's `npm run build` does.
    for (const i of final.filter((x) => x.keyword === 'COPY' && x.args.startsWith('--from=verify'))) {
      const [, from, dest] = i.args.split(/\s+/) as [string, string, string];
      expect(from).toBe('/app/dist');
      // package.json's build script, writing into the image root instead of the repository.
      const script = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['build']!;
      const [tool, ...args] = script.split(/\s+/);
      const outDir = join(app, dest.replace(/^\.\//, ''));
      const build = await run(
        join(REPO, 'node_modules/.bin', tool!),
        args.map((a) => a.replace(/^--outfile=dist\//, `--outfile=${outDir}/`)),
        { cwd: REPO, timeout: 120_000 },
      );
      expect(build.code, build.out).toBe(0);
    }
    // The RUN that installs dependencies, minus the apt-get and cleanup steps around it.
    const install = await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, timeout: 240_000 });
    expect(install.code, install.out).toBe(0);

    // Mounted volumes: config with TLS and secret files; data with the keystore.
    const etc = join(root, 'etc/xks-proxy');
    const data = join(root, 'var/lib/xks-proxy');
    await mkdir(join(etc, 'tls'), { recursive: true });
    await mkdir(join(etc, 'secrets'), { recursive: true });
    await mkdir(data, { recursive: true });
    pki = createTestPki();
    await cp(pki.serverCert, join(etc, 'tls/server.crt'));
    await cp(pki.serverKey, join(etc, 'tls/server.key'));
    const kek = randomBytes(32).toString('hex');
    await writeFile(join(etc, 'secrets/keystore.kek'), kek);
    await writeFile(join(etc, 'secrets/sigv4-secret'), DEMO_CREDENTIAL.secretAccessKey);
    await ensureDemoKeystore(join(data, 'keystore.json'), { kek });
    port = await freePort();
    const adminPort = await freePort();
    await writeFile(
      join(etc, 'xks-proxy.yaml'),
      JSON.stringify({
        server: { host: '127.0.0.1', port, tls: { cert: 'tls/server.crt', key: 'tls/server.key' } },
        keyStores: [
          {
            prefix: DEMO_PREFIX,
            credentials: [{ accessKeyId: DEMO_CREDENTIAL.accessKeyId, secretAccessKey: 'file:secrets/sigv4-secret', createdAt: '2026-01-01' }],
            provider: { type: 'software', path: join(data, 'keystore.json'), kek: 'file:secrets/keystore.kek' },
          },
        ],
        audit: { file: join(data, 'audit.jsonl') },
        // The HEALTHCHECK's default URL is the admin listener's /ping (docs/deploy.md).
        admin: { host: '127.0.0.1', port: adminPort },
      }),
    );
    if (asRoot) {
      // The config volume is read-only to the proxy's user; the data volume is its own.
      await run('chmod', ['-R', 'a+rX', root], {});
      await run('chown', ['-R', `${uid}:${uid}`, data], {});
      await chown(join(etc, 'secrets/sigv4-secret'), uid, uid);
      await chown(join(etc, 'secrets/keystore.kek'), uid, uid);
      await chown(join(etc, 'tls/server.key'), uid, uid);
    }

    // ENV of the final stage, with container paths mapped into the temp root. Node's
    // headers for the pkcs11js build are at Debian's /usr here, as the repo's .npmrc says.
    const mapped = (v: string) =>
      v
        .replace(/^\/etc\/xks-proxy/, etc)
        .replace(/^\/var\/lib\/xks-proxy/, data)
        .replace('127.0.0.1:8443', `127.0.0.1:${port}`)
        .replace('127.0.0.1:9480', `127.0.0.1:${adminPort}`);
    env = { PATH: process.env.PATH, HOME: data };
    for (const [k, v] of Object.entries(envOf(final))) if (k !== 'npm_config_nodedir') env[k] = mapped(v);
  }, 300_000);

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    pki?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  function healthcheck(): Promise<{ code: number; out: string }> {
    const cmd = JSON.parse(final.find((i) => i.keyword === 'HEALTHCHECK')!.args.replace(/^.*?CMD\s+/, '')) as string[];
    expect(cmd[0]).toBe('node');
    return run(process.execPath, cmd.slice(1), { env, timeout: 10_000, ...(asRoot ? { uid, gid: uid } : {}) });
  }

  it('starts with its ENTRYPOINT and CMD as the unprivileged user, serves, passes its HEALTHCHECK and stops on SIGTERM with exit 0', async () => {
    const entry = json('ENTRYPOINT');
    const cmd = json('CMD');
    expect(entry[0]).toBe('node');
    child = spawn(process.execPath, [...entry.slice(1), ...cmd], {
      cwd: join(root, 'app'),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(asRoot ? { uid, gid: uid } : {}),
    });
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    const deadline = Date.now() + 60_000;
    while (!output.includes('"xks-proxy listening"')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the image command did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const health = await healthcheck();
    expect(health.code, health.out).toBe(0);
    const answer = await encryptCall(`https://127.0.0.1:${port}`, DEMO_PREFIX, { ca: await readFile(pki.caCert) });
    expect(answer.status).toBe(200);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect((await healthcheck()).code).toBe(1);
    expect(output).not.toContain(DEMO_CREDENTIAL.secretAccessKey);
  }, 120_000);
});
