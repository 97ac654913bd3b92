import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONFIG_WRITER_SCRIPT } from '../lib/config-writer';

// The init container's program, run with the real node as the container runs it.
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'xks-config-writer-'));
  mkdirSync(path.join(dir, 'etc'));
  mkdirSync(path.join(dir, 'data'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(files: Record<string, string>, env: Record<string, string>) {
  const uid = process.getuid?.() ?? 0;
  return spawnSync(process.execPath, ['-e', CONFIG_WRITER_SCRIPT, JSON.stringify(files), path.join(dir, 'etc'), path.join(dir, 'data'), String(uid)], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    encoding: 'utf8',
  });
}

describe("config writer (the fleet's init container)", () => {
  it('writes each secret to its file under the config directory, mode 0400, with a final newline', () => {
    const r = run(
      { XKS_FILE_0: 'xks-proxy.yaml', XKS_FILE_1: 'tls/server.key' },
      { XKS_FILE_0: 'server:\n  port: 8443', XKS_FILE_1: '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'etc', 'xks-proxy.yaml'), 'utf8')).toBe('server:\n  port: 8443\n');
    expect(readFileSync(path.join(dir, 'etc', 'tls', 'server.key'), 'utf8')).toBe('-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n');
    expect(statSync(path.join(dir, 'etc', 'tls', 'server.key')).mode & 0o777).toBe(0o400);
    // It names the files it wrote, never their content.
    expect(r.stdout).toContain('tls/server.key');
    expect(r.stdout + r.stderr).not.toContain('BEGIN PRIVATE KEY');
  });

  it('refuses a path outside the config directory and an empty secret, and the task stops (non-zero exit)', () => {
    const escape = run({ XKS_FILE_0: '../escaped' }, { XKS_FILE_0: 'x' });
    expect(escape.status).not.toBe(0);
    expect(escape.stderr).toContain('bad path');
    expect(existsSync(path.join(dir, 'escaped'))).toBe(false);
    const empty = run({ XKS_FILE_0: 'xks-proxy.yaml' }, { XKS_FILE_0: '' });
    expect(empty.status).not.toBe(0);
    expect(empty.stderr).toContain('xks-proxy.yaml: its secret is empty');
  });
});
