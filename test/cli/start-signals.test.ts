/**
 * SIGHUP and SIGTERM sent to the process a user started, through each documented way of
 * starting the proxy: `npm run xks-proxy -- serve`, `npx xks-proxy serve` and
 * `node bin/xks-proxy.js serve`. Each runs in its own process group so that a leftover
 * proxy can be found (and is killed by the test) when a signal did not reach it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoKeystore } from '../../src/providers/software/software-demo-setup.ts';
import { DEMO_CREDENTIAL } from '../support/xks-client.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;
let configFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xks-signals-'));
  const kek = randomBytes(32).toString('hex');
  await ensureDemoKeystore(join(dir, 'keystore.json'), { kek });
  configFile = join(dir, 'xks.yaml');
  await writeFile(
    configFile,
    [
      'server: { host: 127.0.0.1, port: 0 }',
      'logging: { pretty: false }',
      'keyStores:',
      '  - prefix: tenant',
      '    credentials:',
      `      - { accessKeyId: ${DEMO_CREDENTIAL.accessKeyId}, secretAccessKey: ${DEMO_CREDENTIAL.secretAccessKey} }`,
      `    provider: { type: software, path: keystore.json, kek: ${kek} }`,
      '',
    ].join('\n'),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Starts a command in its own process group and waits for the proxy's "listening" line. */
function start(command: string, args: string[]): Promise<Started> {
  const child = spawn(command, args, { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XKS_PROXY_CONFIG: configFile } });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "xks-proxy listening" line in time:\n${out}`)), 60_000);
    const onData = () => {
      const line = out.split('\n').find((l) => l.includes('"xks-proxy listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve({ child, url: (JSON.parse(line) as { url: string }).url, output: () => out });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
}

/** True while something answers /ping at `url`. */
async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

/** Waits until `url` stops answering, up to `ms`; true when it did. */
async function goesQuiet(url: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!(await answers(url))) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Kills whatever is left of the process group. */
function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

const WAYS: Array<[string, string, string[]]> = [
  ['npm run xks-proxy -- serve', 'npm', ['run', '--silent', 'xks-proxy', '--', 'serve', '--workers', '1']],
  ['npx xks-proxy serve', 'npx', ['--no-install', 'xks-proxy', 'serve', '--workers', '1']],
  ['node bin/xks-proxy.js serve', process.execPath, ['bin/xks-proxy.js', 'serve', '--workers', '1']],
];

describe.each(WAYS)('started as `%s`', (_name, command, args) => {
  it('SIGTERM to the started process stops the proxy', async () => {
    const s = await start(command, args);
    try {
      expect(await answers(s.url)).toBe(true);
      process.kill(s.child.pid!, 'SIGTERM');
      expect(await goesQuiet(s.url, 15_000), s.output()).toBe(true);
    } finally {
      killGroup(s.child);
    }
  }, 90_000);

  it('SIGHUP to the started process reloads the proxy, or (under npm, which does not forward it) stops it rather than leaving it orphaned', async () => {
    const s = await start(command, args);
    try {
      process.kill(s.child.pid!, 'SIGHUP');
      if (command === process.execPath) {
        const until = Date.now() + 15_000;
        while (!s.output().includes('"config reloaded"') && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
        expect(s.output()).toContain('"config reloaded"');
        expect(await answers(s.url)).toBe(true);
      } else {
        expect(await goesQuiet(s.url, 15_000), s.output()).toBe(true);
      }
    } finally {
      killGroup(s.child);
    }
  }, 90_000);
});
