/**
 * Vitest global setup of the `cdk` project: makes sure deploy/cdk's own node_modules match its
 * package-lock.json before any test imports aws-cdk-lib, and installs them with `npm ci` when
 * not (a fresh clone after `npm ci && npm test`, or a changed lock file). npm keeps a copy of
 * what it installed in node_modules/.package-lock.json; comparing versions with the lock file
 * is enough to tell.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const PACKAGE_DIR = path.resolve(__dirname, '..', '..');

type Lock = { packages?: Record<string, { version?: string }> };

function read(file: string): Lock | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Lock) : undefined;
}

export function dependenciesAreCurrent(dir = PACKAGE_DIR): boolean {
  const wanted = read(path.join(dir, 'package-lock.json'))?.packages ?? {};
  const installed = read(path.join(dir, 'node_modules', '.package-lock.json'))?.packages;
  if (installed === undefined) return false;
  return Object.entries(wanted).every(
    ([name, pkg]) =>
      name === '' ||
      installed[name]?.version === pkg.version ||
      // Optional platform packages (esbuild's other binaries) are not installed here.
      (installed[name] === undefined && (pkg as { optional?: boolean }).optional === true),
  );
}

export default function setup(): void {
  if (dependenciesAreCurrent()) return;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--prefix', PACKAGE_DIR], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) {
    throw new Error(`npm ci --prefix deploy/cdk failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}
