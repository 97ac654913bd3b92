/**
 * The ceilings' PKCS#11 session handling, as bare as it can be: one operation at a time per
 * session (PKCS#11), callers wait in order for a free one. Shared by the pkcs11 work
 * ceiling (bench/servers/work-ceiling-server.ts) and bench/pkcs11-seam.ts, so both measure
 * the same thing.
 */
export function sessionQueue(sessions: readonly Buffer[]): <T>(work: (session: Buffer) => Promise<T>) => Promise<T> {
  const free = [...sessions];
  const waiting: ((session: Buffer) => void)[] = [];
  return async function withSession<T>(work: (session: Buffer) => Promise<T>): Promise<T> {
    const session = free.pop() ?? (await new Promise<Buffer>((resolve) => waiting.push(resolve)));
    try {
      return await work(session);
    } finally {
      const next = waiting.shift();
      if (next === undefined) free.push(session);
      else next(session);
    }
  };
}
