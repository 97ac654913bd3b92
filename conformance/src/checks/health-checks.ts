/** GetHealthStatus: response schema, fleet entries, accepted operations (spec GetHealthStatus). */
import { healthSchemaProblems } from '../answer-values.ts';
import type { CheckDefinition } from '../check.ts';
import { fail } from '../check.ts';
import { expectSuccess } from '../expect-answer.ts';
import { healthMetadata } from '../request-bodies.ts';

const GROUP = 'health';
const SPEC = 'GetHealthStatus';

/** The health body rules live with the other value rules; re-exported for existing callers. */
export { healthSchemaProblems };
/** KMS gives up on any call after 250 ms (spec GetHealthStatus, KMS considerations). */
const KMS_TIMEOUT_MS = 250;

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
