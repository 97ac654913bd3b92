import type { Logger } from 'pino';
import type { AuthorizationInput } from '../../xks/tenants.ts';
import { XksError } from '../../xks/errors.ts';
import { compilePolicy, type PolicyDecision } from './evaluate-policy.ts';
import type { PolicyConfig } from '../../config/policy-schema.ts';

/** Called for every denial (enforced or dry run), e.g. to count it in metrics. */
export type DenialListener = (prefix: string, decision: PolicyDecision, dryRun: boolean) => void;

/**
 * Turns a key store's policy into `Tenant.authorize`. A denial throws the spec's
 * AccessDeniedException (403) with a message that does not reveal the policy; the rule
 * that denied goes to the request's log line as `reason`. In dry-run mode the request
 * goes through and a warning line records what would have been denied.
 */
export function createPolicyAuthorizer(
  policy: PolicyConfig,
  opts: { prefix: string; logger: Logger; onDenial?: DenialListener },
): (input: AuthorizationInput) => void {
  const evaluate = compilePolicy(policy);
  return (input) => {
    const decision = evaluate(input);
    if (decision.effect === 'allow') return;
    opts.onDenial?.(opts.prefix, decision, policy.dryRun);
    if (policy.dryRun) {
      opts.logger.warn(
        {
          prefix: opts.prefix,
          operation: input.operation,
          keyId: input.keyId,
          kmsRequestId: input.requestMetadata.kmsRequestId,
          kmsOperation: input.requestMetadata.kmsOperation,
          awsPrincipalArn: input.requestMetadata.awsPrincipalArn,
          rule: decision.rule,
          reason: `policy dry run: would be ${decision.explanation}`,
        },
        'policy would deny (dry run)',
      );
      return;
    }
    throw new XksError('AccessDeniedException', "The key store's access policy does not allow this request.", {
      logDetail: `policy: ${decision.explanation}`,
    });
  };
}
