/**
 * Starts a server under test as a child process (never in the load generator's process),
 * with its output going to a file so that reading logs costs the generator nothing, and
 * reads its CPU time and memory from /proc while it runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleTree, type ProcSample } from './proc-stats.ts';

/** Repository root, the working directory of every child. */
export const REPO_DIR = fileURLToPath(new URL('..', import.meta.url));

/** What to start and which output line says it is ready. */
export interface ServerSpec {
  name: string;
  /** Script path relative to the repository, run with `node --import tsx` unless `nodeArgs` says otherwise. */
  script: string;
  /** Node options before the script; default `--import tsx` (TypeScript sources). */
  nodeArgs?: string[];
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Directory for the output file. */
  logDir: string;
  /** The `msg` of the JSON line that carries the `url` once the server listens. */
  readyMsg: string;
  timeoutMs?: number;
}

/** A started server. */
export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  logFile: string;
  /** Memory and CPU of the server and its children (cluster workers) now. */
  sample(): ProcSample;
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Spawns the server and waits for its ready line. */
export async function startServer(spec: ServerSpec): Promise<ServerProcess> {
  const logFile = join(spec.logDir, `${spec.name}.log`);
  const fd = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...(spec.nodeArgs ?? ['--import', 'tsx']), spec.script, ...spec.args], {
      cwd: REPO_DIR,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await waitForReady(child, logFile, spec.readyMsg, spec.timeoutMs ?? 60_000);
  const pid = child.pid!;
  return {
    name: spec.name,
    url,
    pid,
    logFile,
    sample: () => sampleTree(pid),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(kill);
      return code;
    },
  };
}

async function waitForReady(child: ChildProcess, logFile: string, readyMsg: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const marker = `"msg":${JSON.stringify(readyMsg)}`;
  while (Date.now() < deadline) {
    const text = readFileSync(logFile, 'utf8');
    const line = text.split('\n').find((l) => l.includes(marker));
    if (line !== undefined) return (JSON.parse(line) as { url: string }).url;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${text.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`server not ready within ${timeoutMs} ms:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
}
