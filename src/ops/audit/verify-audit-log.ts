import { createReadStream } from 'node:fs';
import { GENESIS_HASH, hashAuditLine } from './audit-chain.ts';

/** One thing wrong with an audit log, located by file and 1-based line number. */
export interface AuditProblem {
  file: string;
  line: number;
  message: string;
}

/** What `audit verify` found. */
export interface AuditVerification {
  ok: boolean;
  /** Lines read (records and damaged lines). */
  lines: number;
  firstSeq: number | undefined;
  lastSeq: number | undefined;
  /** SHA-256 of the last line: compare it with a copy kept elsewhere to detect truncation. */
  headHash: string;
  /** True when the first line continues an older file (log rotation) instead of starting a chain. */
  continuesEarlierFile: boolean;
  problems: AuditProblem[];
}

/** Reports at most this many problems; one edit already makes the log untrustworthy. */
const MAX_PROBLEMS = 50;

/** Yields the raw lines of a file exactly as written (split on LF only, no trimming). */
async function* rawLines(file: string): AsyncGenerator<string> {
  let pending = Buffer.alloc(0);
  for await (const chunk of createReadStream(file)) {
    let data = Buffer.concat([pending, chunk as Buffer]);
    let nl: number;
    while ((nl = data.indexOf(0x0a)) !== -1) {
      yield data.subarray(0, nl).toString('utf8');
      data = data.subarray(nl + 1);
    }
    pending = data;
  }
  if (pending.length > 0) yield pending.toString('utf8');
}

/** Options of a verification. */
export interface VerifyOptions {
  /** Key of a keyed (audit.hmacKey) chain; without it the chain is plain SHA-256. */
  key?: Buffer | undefined;
  /** The chain head kept elsewhere (logged as headHash at close): catches removed last lines. */
  expectedHead?: string | undefined;
}

/**
 * Checks one audit log, or several files that follow each other (rotated logs, oldest
 * first), as one hash chain: every line must be a JSON record whose `prev` is the hash of
 * the line before it and whose `seq` is one more than that line's. A line whose hash is not
 * the `prev` the next line recorded is reported at that line itself: it was edited or
 * inserted, or lines after it were removed (then the next line's seq also jumps). Removing
 * lines from the end cannot be seen from the file alone: pass the head kept elsewhere.
 */
export async function verifyAuditLog(files: readonly string[], opts: VerifyOptions = {}): Promise<AuditVerification> {
  const problems: AuditProblem[] = [];
  const problem = (file: string, line: number, message: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push({ file, line, message });
  };
  let prevHash: string | undefined;
  let prevSeq: number | undefined;
  let prevAt: { file: string; line: number } | undefined;
  let firstSeq: number | undefined;
  let lastSeq: number | undefined;
  let lines = 0;
  let continuesEarlierFile = false;
  const keyHint = opts.key === undefined ? ' (if the log is keyed with audit.hmacKey, pass its key)' : '';
  for (const file of files) {
    let lineNo = 0;
    for await (const text of rawLines(file)) {
      lineNo++;
      lines++;
      let record: { seq?: unknown; prev?: unknown } | undefined;
      try {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) record = parsed;
      } catch {
        // Reported below.
      }
      if (record === undefined) {
        problem(file, lineNo, 'not a JSON record (damaged or partly written line)');
      } else if (typeof record.seq !== 'number' || typeof record.prev !== 'string') {
        problem(file, lineNo, 'record has no seq or prev field');
      } else {
        if (prevHash === undefined) {
          if (record.prev !== GENESIS_HASH) continuesEarlierFile = true;
        } else if (record.prev !== prevHash && prevAt !== undefined) {
          problem(
            prevAt.file,
            prevAt.line,
            `this line does not hash to the prev the next line recorded: it was edited or inserted, or lines after it were removed${keyHint}`,
          );
        }
        if (prevSeq !== undefined && record.seq !== prevSeq + 1) {
          problem(file, lineNo, `seq ${record.seq} follows seq ${prevSeq}: records are missing or out of order`);
        }
        firstSeq ??= record.seq;
        lastSeq = record.seq;
      }
      prevSeq = typeof record?.seq === 'number' ? record.seq : undefined;
      prevHash = hashAuditLine(text, opts.key);
      prevAt = { file, line: lineNo };
    }
  }
  const headHash = prevHash ?? GENESIS_HASH;
  if (opts.expectedHead !== undefined && opts.expectedHead !== headHash) {
    problem(
      prevAt?.file ?? files.at(-1) ?? '',
      prevAt?.line ?? 0,
      `the chain ends at head ${headHash}, not at the expected ${opts.expectedHead}: lines were removed from the end, or the last line was edited`,
    );
  }
  return {
    ok: problems.length === 0,
    lines,
    firstSeq,
    lastSeq,
    headHash,
    continuesEarlierFile,
    problems,
  };
}
