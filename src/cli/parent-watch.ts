import { readFileSync } from 'node:fs';

/** How often the npm ancestors are looked at. */
const POLL_MS = 1_000;
/** npm, npx and their shells sit at most a few levels above the proxy. */
const MAX_ANCESTORS = 8;

/** Whether a /proc cmdline (NUL-separated) is npm's or npx's own process. */
function isNpmProcess(cmdline: string): boolean {
  const [argv0 = '', argv1 = ''] = cmdline.split('\0');
  // npm sets its process title ("npm exec ...", "npm run ..."), which replaces argv[0].
  return /^np[mx]( |$)/.test(argv0) || /(^|\/)np[mx](-cli\.js)?$/.test(argv1);
}

/** Parent pid of `pid` from /proc/<pid>/stat ("pid (comm) state ppid ..."). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[1]);
}

/**
 * The processes between this one and the npm process that started it, npm included:
 * `npm run` and `npx` put a `sh -c` in between, which stays alive when npm itself dies.
 * Only the parent when /proc cannot be read or no npm is found.
 */
function npmAncestors(): number[] {
  const chain: number[] = [];
  try {
    let pid = process.ppid;
    for (let i = 0; i < MAX_ANCESTORS && pid > 1; i++) {
      chain.push(pid);
      if (isNpmProcess(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) return chain;
      pid = parentOf(pid);
    }
  } catch {
    // no /proc (not Linux), or an ancestor already gone
  }
  return [process.ppid];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When npm started this process (`npm start`, `npm run ...`, `npx xks-proxy ...`), signals
 * sent to the process the user started may never arrive: npm forwards only SIGINT and
 * SIGTERM, to a `sh -c` that does not pass them on, and SIGHUP not at all. npm then exits
 * and leaves the proxy running with no one to stop it. So under npm, a proxy whose npm
 * ancestor has gone stops itself, exactly as on SIGTERM (graceful drain, exit 0).
 * Outside npm nothing is watched: `nohup`, systemd and containers start proxies that must
 * outlive their parent.
 */
export function stopWhenNpmParentExits(stop: (reason: string) => void, env: NodeJS.ProcessEnv = process.env): void {
  if (env.npm_command === undefined && env.npm_lifecycle_event === undefined) return;
  const parent = process.ppid;
  const ancestors = npmAncestors();
  const timer = setInterval(() => {
    const gone = process.ppid !== parent ? parent : ancestors.find((pid) => !isAlive(pid));
    if (gone === undefined) return;
    clearInterval(timer);
    stop(`the npm process that started the proxy has exited (pid ${gone} is gone)`);
  }, POLL_MS);
  timer.unref();
}
