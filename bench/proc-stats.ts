/**
 * Linux /proc readings for the benchmark: memory and CPU time of a server process and its
 * children (cluster workers), so a target's peak RSS and CPU share can be reported.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ is 100 on Linux). */
const CLOCK_TICKS = 100;

/** Memory and CPU of one process, or undefined once it has exited. */
export interface ProcSample {
  rssBytes: number;
  /** Peak resident set size (VmHWM) since the process started. */
  peakRssBytes: number;
  /** User + system CPU time in seconds. */
  cpuSeconds: number;
}

/** Reads one process's memory and CPU time. */
export function sampleProcess(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that ends the command name: utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { rssBytes: kbField(status, 'VmRSS'), peakRssBytes: kbField(status, 'VmHWM'), cpuSeconds: ticks / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** The process and all its descendants (a cluster primary and its workers). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      const children = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').trim();
      if (children !== '') out.push(...children.split(' ').map(Number));
    } catch {
      // Exited between listing and reading: nothing below it to count.
    }
  }
  return out;
}

/** Sums memory and CPU over a process tree; peak RSS is the sum of each process's peak. */
export function sampleTree(pid: number): ProcSample {
  const total: ProcSample = { rssBytes: 0, peakRssBytes: 0, cpuSeconds: 0 };
  for (const p of processTree(pid)) {
    const s = sampleProcess(p);
    if (s === undefined) continue;
    total.rssBytes += s.rssBytes;
    total.peakRssBytes += s.peakRssBytes;
    total.cpuSeconds += s.cpuSeconds;
  }
  return total;
}

function kbField(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}
