/**
 * A value caught from a synchronous step as the rejection an async function would give
 * for it: for the provider methods that are not async functions (one promise less per
 * call) but must never throw to their caller. A non-Error is wrapped, as a rejection
 * reason must be an Error here.
 */
export function rejectionOf(e: unknown): Promise<never> {
  return Promise.reject(e instanceof Error ? e : new Error(String(e)));
}
