#!/usr/bin/env node
// @ts-check
/**
 * The system package check that runs before any test (`npm test`'s `pretest`) and before
 * `npm ci` in `.ci/run`: reads scripts/system-packages.txt, runs each line's probe, and
 *   - everything present: exits 0 silently;
 *   - something missing, running as root: installs it with apt-get, quietly, then probes again;
 *   - something missing, not root: prints the one command line that installs it and exits 1,
 *     so no test runs (a test must never be skipped or fail obscurely for want of a package).
 *
 * Plain JavaScript with no dependencies on purpose: .ci/run runs it before `npm ci`, when
 * node_modules does not exist yet.
 *
 * Usage: node scripts/system-packages.mjs [--list FILE]
 * Environment:
 *   XKS_SYSTEM_PACKAGES_AS=user|root  act as a non-root user (never install: print the
 *     `sudo apt-get ...` line and exit 1) or as root (install), whatever the real uid.
 *     For the check's own test (test/integration/system-packages-check.test.ts), and for
 *     a root user who manages packages by hand (`=user`).
 * Exit codes: 0 all present, 1 missing (or the install failed), 2 the list is unreadable.
 */
import { execFile } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DEFAULT_LIST = fileURLToPath(new URL('system-packages.txt', import.meta.url));
/** A probe that takes longer than this counts as failed (a hung interpreter, not a present package). */
const PROBE_TIMEOUT_MS = 15_000;
/** apt-get option: wait up to this long for the dpkg lock held by another apt run. */
const LOCK_WAIT = ['-o', 'DPkg::Lock::Timeout=120'];
/** Debian package names: lowercase letters, digits, + - . (Debian policy 5.6.1). */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * @typedef {{ name: string, flags: string[], probe: string, line: number }} SystemPackage
 */

/**
 * Parses the list: `<package> | <apt-get install flags> | <probe>` per line, # comments.
 * @param {string} text
 * @returns {SystemPackage[]}
 */
export function parsePackageList(text) {
  /** @type {SystemPackage[]} */
  const packages = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    // The probe may itself contain '|' (a pipe, ||): everything after the second bar is the probe.
    const first = line.indexOf('|');
    const second = first < 0 ? -1 : line.indexOf('|', first + 1);
    if (second < 0) throw new Error(`line ${i + 1}: expected "<package> | <flags> | <probe>", got "${line}"`);
    const name = line.slice(0, first).trim();
    const flagText = line.slice(first + 1, second).trim();
    const probe = line.slice(second + 1).trim();
    if (!PACKAGE_NAME.test(name)) throw new Error(`line ${i + 1}: "${name}" is not a Debian package name`);
    const flags = flagText === '' ? [] : flagText.split(/\s+/);
    const badFlag = flags.find((f) => !f.startsWith('-'));
    if (badFlag !== undefined) throw new Error(`line ${i + 1}: apt-get flag "${badFlag}" must start with -`);
    if (probe === '') throw new Error(`line ${i + 1}: ${name} has no probe`);
    packages.push({ name, flags, probe, line: i + 1 });
  });
  return packages;
}

/**
 * Runs every probe (in parallel: a python import probe takes a noticeable time,
 * docs/toolchain.md) and returns the packages whose probe failed.
 * @param {SystemPackage[]} packages
 * @returns {Promise<SystemPackage[]>}
 */
export async function findMissing(packages) {
  const present = await Promise.all(
    packages.map(
      (p) =>
        new Promise((resolve) => {
          execFile('sh', ['-c', p.probe], { timeout: PROBE_TIMEOUT_MS }, (error) => resolve(error === null));
        }),
    ),
  );
  return packages.filter((_, i) => !present[i]);
}

/**
 * Groups packages by their apt-get flags: one `apt-get install` per group, in list order.
 * @param {SystemPackage[]} packages
 * @returns {{ flags: string[], names: string[] }[]}
 */
export function installGroups(packages) {
  /** @type {Map<string, { flags: string[], names: string[] }>} */
  const groups = new Map();
  for (const p of packages) {
    const key = p.flags.join(' ');
    const group = groups.get(key) ?? { flags: p.flags, names: [] };
    group.names.push(p.name);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/**
 * The one shell line a (non-root) user pastes to install the missing packages.
 * @param {SystemPackage[]} missing
 */
export function installCommandLine(missing) {
  const sudo = 'sudo ';
  const installs = installGroups(missing).map((g) => `${sudo}apt-get install -y ${[...g.flags, ...g.names].join(' ')}`);
  return [`${sudo}apt-get update`, ...installs].join(' && ');
}

/**
 * Runs one apt-get command quietly; its output is shown only when it fails.
 * @param {string[]} args
 * @returns {Promise<void>}
 */
function aptGet(args) {
  return new Promise((resolve, reject) => {
    execFile('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) resolve();
      else reject(new Error(`apt-get ${args.join(' ')} failed (${error.code ?? error.message}):\n${stderr || stdout}`));
    });
  });
}

/**
 * @param {SystemPackage[]} missing
 */
function describeMissing(missing) {
  return missing.map((p) => `  ${p.name.padEnd(26)} (probe failed: ${p.probe})`).join('\n');
}

/**
 * The check itself. Returns the exit code; writes only to stderr (stdout may be a reporter's).
 * @param {{ listPath: string, asRoot: boolean }} options  asRoot: may install with apt-get
 * @returns {Promise<number>}
 */
export async function checkSystemPackages({ listPath, asRoot }) {
  let packages;
  try {
    packages = parsePackageList(readFileSync(listPath, 'utf8'));
  } catch (e) {
    process.stderr.write(`system package check: cannot use ${listPath}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const missing = await findMissing(packages);
  if (missing.length === 0) return 0;

  if (!asRoot) {
    process.stderr.write(
      [
        `The tests need these Debian packages, which are missing (list: ${listPath}):`,
        describeMissing(missing),
        'Install them, then run the tests again:',
        `  ${installCommandLine(missing)}`,
        '(Run as root, npm test installs them itself. Not Debian/Ubuntu? Install the equivalents.)',
        'No test was run.',
        '',
      ].join('\n'),
    );
    return 1;
  }

  process.stderr.write(`installing the Debian packages the tests need: ${missing.map((p) => p.name).join(' ')}\n`);
  try {
    // Wait for another apt/dpkg run (unattended-upgrades, a parallel job) instead of failing on its lock.
    await aptGet(['update', '-qq', ...LOCK_WAIT]);
    for (const group of installGroups(missing)) await aptGet(['install', '-y', '-qq', ...LOCK_WAIT, ...group.flags, ...group.names]);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\nNo test was run.\n`);
    return 1;
  }
  const stillMissing = await findMissing(missing);
  if (stillMissing.length > 0) {
    process.stderr.write(`installed, but these probes still fail (is the list's probe right?):\n${describeMissing(stillMissing)}\nNo test was run.\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const listFlag = process.argv.indexOf('--list');
  const listPath = listFlag >= 0 && process.argv[listFlag + 1] !== undefined ? process.argv[listFlag + 1] : DEFAULT_LIST;
  const actAs = process.env.XKS_SYSTEM_PACKAGES_AS;
  process.exitCode = await checkSystemPackages({
    listPath,
    asRoot: actAs === 'root' || (actAs !== 'user' && process.getuid?.() === 0),
  });
}
