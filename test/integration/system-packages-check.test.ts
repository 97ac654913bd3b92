/**
 * The system package check that runs before `npm test` (scripts/system-packages.mjs): with a
 * package missing it names it, prints the apt-get line and exits non-zero before any test
 * runs; as root it installs with apt-get. Lists here are temp files; "missing" packages are
 * probes that fail; apt-get is a fake on PATH (a real install needs the network and would
 * change this machine), which records its arguments and makes the probes pass.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHECK = fileURLToPath(new URL('../../scripts/system-packages.mjs', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xks-syspkg-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface CheckRun {
  code: number;
  stderr: string;
}

/** Runs the check on a list, acting as `as` (XKS_SYSTEM_PACKAGES_AS), with extra PATH entries first. */
function runCheck(list: string, as: 'user' | 'root', pathPrefix?: string): Promise<CheckRun> {
  const env = { ...process.env, XKS_SYSTEM_PACKAGES_AS: as, PATH: pathPrefix ? `${pathPrefix}:${process.env.PATH}` : process.env.PATH };
  return new Promise((resolve) => {
    execFile(process.execPath, [CHECK, '--list', list], { env, timeout: 30_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
    });
  });
}

async function writeList(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('the system package check before npm test', () => {
  it('passes silently when every probe succeeds', async () => {
    const list = await writeList('present.txt', '# comment\n\nsh-like | | command -v sh\n');
    expect(await runCheck(list, 'user')).toEqual({ code: 0, stderr: '' });
  });

  it('as a non-root user, names the missing packages, prints one apt-get line and exits 1', async () => {
    const list = await writeList(
      'missing.txt',
      [
        'present-one | | command -v sh',
        'xks-absent-a | | command -v xks-no-such-tool-a',
        'xks-absent-b | --no-install-recommends | command -v xks-no-such-tool-b',
        'xks-absent-c | | command -v xks-no-such-tool-c || false',
      ].join('\n'),
    );
    const { code, stderr } = await runCheck(list, 'user');
    expect(code).toBe(1);
    expect(stderr).toContain('xks-absent-a');
    expect(stderr).toContain('probe failed: command -v xks-no-such-tool-c || false');
    expect(stderr).not.toContain('present-one');
    // One pasteable line: the flags stay with their own packages.
    expect(stderr).toContain(
      'sudo apt-get update && sudo apt-get install -y xks-absent-a xks-absent-c && sudo apt-get install -y --no-install-recommends xks-absent-b\n',
    );
    expect(stderr).toContain('No test was run.');
  });

  it('as root, installs the missing packages with apt-get, grouped by flags, then re-probes', async () => {
    const bin = join(dir, 'fake-apt-bin');
    const log = join(dir, 'apt-get.log');
    const installed = join(dir, 'installed');
    await rm(bin, { recursive: true, force: true });
    await mkdir(installed, { recursive: true });
    await mkdir(bin, { recursive: true });
    // Fake apt-get: logs its arguments; "install" marks each named package installed.
    await writeFile(
      join(bin, 'apt-get'),
      `#!/bin/sh\necho "$DEBIAN_FRONTEND $*" >> '${log}'\n[ "$1" = install ] || exit 0\nfor a in "$@"; do case "$a" in -*|install|DPkg::*) ;; *) touch '${installed}'/"$a" ;; esac; done\n`,
    );
    await chmod(join(bin, 'apt-get'), 0o755);
    const list = await writeList(
      'to-install.txt',
      [
        'pkg-a | | test -e ' + join(installed, 'pkg-a'),
        'pkg-b | --no-install-recommends | test -e ' + join(installed, 'pkg-b'),
        'pkg-c | | command -v sh',
      ].join('\n'),
    );
    const { code, stderr } = await runCheck(list, 'root', bin);
    expect(stderr).toContain('installing the Debian packages the tests need: pkg-a pkg-b');
    expect(code).toBe(0);
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual([
      'noninteractive update -qq -o DPkg::Lock::Timeout=120',
      'noninteractive install -y -qq -o DPkg::Lock::Timeout=120 pkg-a',
      'noninteractive install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends pkg-b',
    ]);
  });

  it('as root, fails naming the package when apt-get installs it but its probe still fails', async () => {
    const bin = join(dir, 'noop-apt-bin');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'apt-get'), '#!/bin/sh\nexit 0\n');
    await chmod(join(bin, 'apt-get'), 0o755);
    const list = await writeList('wrong-probe.txt', 'xks-wrong-probe | | command -v xks-no-such-tool-d\n');
    const { code, stderr } = await runCheck(list, 'root', bin);
    expect(code).toBe(1);
    expect(stderr).toMatch(/still fail[\s\S]*xks-wrong-probe/);
  });

  it('as root, reports a failed apt-get with its output and exits 1', async () => {
    const bin = join(dir, 'failing-apt-bin');
    await mkdir(bin, { recursive: true });
    await writeFile(
      join(bin, 'apt-get'),
      '#!/bin/sh\n[ "$1" = update ] && exit 0\nfor a in "$@"; do last="$a"; done\necho "E: Unable to locate package $last" >&2\nexit 100\n',
    );
    await chmod(join(bin, 'apt-get'), 0o755);
    const list = await writeList('unknown.txt', 'xks-unknown | | command -v xks-no-such-tool-e\n');
    const { code, stderr } = await runCheck(list, 'root', bin);
    expect(code).toBe(1);
    expect(stderr).toContain('E: Unable to locate package xks-unknown');
    expect(stderr).toContain('No test was run.');
  });

  it('refuses a malformed list with exit 2, naming the line', async () => {
    const list = await writeList('malformed.txt', 'ok-pkg | | true\nno-probe-here\n');
    const { code, stderr } = await runCheck(list, 'user');
    expect(code).toBe(2);
    expect(stderr).toContain('line 2');
  });

  it('the committed list parses and names the AWS XKS test client needs', async () => {
    const text = await readFile(fileURLToPath(new URL('../../scripts/system-packages.txt', import.meta.url)), 'utf8');
    const names = text
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => l.split('|')[0]!.trim());
    expect(names).toEqual(expect.arrayContaining(['uuid-runtime', 'jq', 'xxd', 'curl']));
  });

  it('is what npm test runs first', async () => {
    const pkg = JSON.parse(await readFile(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.pretest).toBe('node scripts/system-packages.mjs');
  });
});
