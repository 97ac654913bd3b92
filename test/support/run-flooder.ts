/** Runs test/support/http-flooder.ts as a child process and reports what it saw. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FloodPlan, FloodResult } from './http-flooder.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** A running flood. */
export interface Flood {
  /** Resolves once the flood is under way (its streams or connections are open). */
  started: Promise<void>;
  /** Resolves with what the flooder saw when it has stopped by itself. */
  done: Promise<FloodResult>;
}

/** Starts the flood in its own process (a node with tsx, which takes a moment to start). */
export function startFlooder(plan: FloodPlan): Flood {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/http-flooder.ts', JSON.stringify(plan)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), plan.holdMs + 30_000);
  let stdout = '';
  let stderr = '';
  let markStarted!: () => void;
  const started = new Promise<void>((r) => (markStarted = r));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes('{"started":true}')) markStarted();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<FloodResult>((resolveDone, reject) => {
    child.once('exit', (code) => {
      clearTimeout(killer);
      markStarted();
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{"mode"')) {
        reject(new Error(`flooder exited with ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      resolveDone(JSON.parse(last) as FloodResult);
    });
  });
  return { started, done };
}

/** Runs a flood to its end. */
export function runFlooder(plan: FloodPlan): Promise<FloodResult> {
  return startFlooder(plan).done;
}
