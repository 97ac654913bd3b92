/** GetHealthStatus: response schema, fleet entries, accepted operations (spec GetHealthStatus). */
import type { CheckDefinition } from '../check.ts';
import { fail } from '../check.ts';
import { expectSuccess } from '../expect-answer.ts';
import { healthMetadata } from '../request-bodies.ts';

const GROUP = 'health';
const SPEC = 'GetHealthStatus';
const HEALTH_STATUSES = ['ACTIVE', 'DEGRADED', 'UNAVAILABLE'];
/** KMS gives up on any call after 250 ms (spec GetHealthStatus, KMS considerations). */
const KMS_TIMEOUT_MS = 250;

/** Returns the problems of a health response body, empty when it follows the schema. */
export function healthSchemaProblems(body: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const size = body.xksProxyFleetSize;
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0) problems.push(`xksProxyFleetSize ${JSON.stringify(size)} is not an integer > 0`);
  for (const f of ['xksProxyVendor', 'xksProxyModel', 'ekmVendor']) {
    if (typeof body[f] !== 'string' || (body[f] as string).length === 0) problems.push(`${f} is not a non-empty string`);
  }
  const fleet = body.ekmFleetDetails;
  if (!Array.isArray(fleet)) return [...problems, 'ekmFleetDetails is not an array'];
  if (fleet.length < 1 || fleet.length > 10) problems.push(`ekmFleetDetails has ${fleet.length} entries, must have 1 to 10`);
  fleet.forEach((e: unknown, i) => {
    const entry = (e ?? {}) as Record<string, unknown>;
    if (typeof entry.id !== 'string') problems.push(`ekmFleetDetails[${i}].id is not a string`);
    if (typeof entry.model !== 'string') problems.push(`ekmFleetDetails[${i}].model is not a string`);
    if (!HEALTH_STATUSES.includes(entry.healthStatus as string)) problems.push(`ekmFleetDetails[${i}].healthStatus ${JSON.stringify(entry.healthStatus)} is not ACTIVE, DEGRADED or UNAVAILABLE`);
  });
  return problems;
}

/** Checks of GetHealthStatus. */
export const healthChecks: CheckDefinition[] = [
  {
    id: 'health.schema',
    group: GROUP,
    title: 'health returns xksProxyFleetSize > 0, vendor and model strings and 1-10 ekmFleetDetails entries',
    spec: SPEC,
    level: 'MUST',
    async run({ client }) {
      const body = expectSuccess(await client.health(), 'health');
      const problems = healthSchemaProblems(body);
      if (problems.length > 0) fail(problems.join('; '));
      const fleet = body.ekmFleetDetails as Array<{ healthStatus: string }>;
      return `fleet size ${String(body.xksProxyFleetSize)}, ${fleet.length} key manager(s): ${fleet.map((e) => e.healthStatus).join(', ')}`;
    },
  },
  {
    id: 'health.kms-operations',
    group: GROUP,
    title: 'health accepts each kmsOperation KMS sends it',
    spec: 'GetHealthStatus (kmsOperation)',
    level: 'MUST',
    async run({ client }) {
      for (const op of ['CreateCustomKeyStore', 'ConnectCustomKeyStore', 'UpdateCustomKeyStore', 'KmsHealthCheck']) {
        expectSuccess(await client.health(healthMetadata(op)), `health for ${op}`);
      }
    },
  },
  {
    id: 'health.latency',
    group: GROUP,
    title: 'five health calls in a row each answer within the 250 ms KMS budget',
    spec: 'GetHealthStatus (KMS considerations: 250 ms; cache deep checks)',
    level: 'SHOULD',
    async run({ client }) {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const a = await client.health();
        expectSuccess(a, 'health');
        times.push(a.latencyMs);
      }
      const max = Math.max(...times);
      if (max >= KMS_TIMEOUT_MS) fail(`slowest health call took ${max.toFixed(0)} ms`);
      return `slowest ${max.toFixed(1)} ms`;
    },
  },
];
