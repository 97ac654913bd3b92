/** Milliseconds in a day. */
const DAY_MS = 86_400_000;

/**
 * Age in days of a credential from its configured `createdAt` (an ISO date or date-time),
 * or undefined when it has none or it does not parse. KMS publishes the same figure as
 * the XksProxyCredentialAge CloudWatch metric; rotate before it grows old.
 */
export function credentialAgeDays(createdAt: string | undefined, now: Date = new Date()): number | undefined {
  if (createdAt === undefined) return undefined;
  const t = Date.parse(createdAt);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, (now.getTime() - t) / DAY_MS);
}
