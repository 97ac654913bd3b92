/**
 * Runs a demo exactly as a user does (`npm start`, `npm run demo:softhsm`, ...) in its own
 * process group, on a free loopback port (--port 0) with private state (--data-dir), and
 * stops the whole group afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** A demo serving until stop(). */
export interface DemoProcess {
  /** Base URL, e.g. http://127.0.0.1:43659 */
  url: string;
  output(): string;
  /** SIGTERM to the group, SIGKILL after graceMs; then kills anything left that uses dataDir. */
  stop(graceMs?: number): Promise<void>;
}

/** Signals a whole process group (negative pid); a group already gone is fine. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Kills, by pid, processes whose command line mentions dataDir (a unique temp dir): the
 * demo's PyKMIP server runs in a process group of its own, and is left behind only if the
 * demo itself had to be SIGKILLed before it could stop it.
 */
function killProcessesUsing(dataDir: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes(dataDir)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      // Exited meanwhile.
    }
  }
}

/** Starts `npm run <script> -- --port 0 --data-dir <dataDir> ...extraArgs` and waits for its "xks-proxy listening" line. */
export function startNpmDemo(script: string, dataDir: string, extraArgs: readonly string[] = [], timeoutMs = 90_000): Promise<DemoProcess> {
  const child = spawn('npm', ['run', '--silent', script, '--', '--port', '0', '--data-dir', dataDir, ...extraArgs], {
    cwd: REPO,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  const stop = async (graceMs = 15_000): Promise<void> => {
    if (!stopped) {
      stopped = true;
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    signalGroup(child, 'SIGKILL');
    killProcessesUsing(dataDir);
  };
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void stop(1_000).then(() => reject(new Error(`npm run ${script}: ${why}\n${out.slice(-4000)}`)));
    };
    const timer = setTimeout(() => fail(`not listening after ${timeoutMs} ms`), timeoutMs);
    const onData = () => {
      const line = out.split('\n').find((l) => l.includes('"xks-proxy listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({ url: (JSON.parse(line) as { url: string }).url, output: () => out, stop });
    };
    child.stdout.on('data', onData);
    void exited.then(() => {
      if (!stopped) fail(`exited with ${child.exitCode ?? child.signalCode} before listening`);
    });
  });
}
