/** Runs test/support/http-flooder.ts as a child process and returns what it saw. */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FloodPlan, FloodResult } from './http-flooder.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Starts the flood; the promise settles when the flooder has stopped by itself. */
export function runFlooder(plan: FloodPlan): Promise<FloodResult> {
  return new Promise((resolveRun, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'test/support/http-flooder.ts', JSON.stringify(plan)],
      { cwd: REPO_ROOT, timeout: plan.holdMs + 30_000, maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err !== null) {
          reject(new Error(`flooder failed: ${err.message}\n${stderr}`));
          return;
        }
        resolveRun(JSON.parse(stdout.trim().split('\n').pop()!) as FloodResult);
      },
    );
  });
}
