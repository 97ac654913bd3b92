import type { AuthorizationInput } from '../../xks/tenants.ts';
import { compileGlob } from './glob-pattern.ts';
import { POLICY_ATTRIBUTES, type PolicyAttribute, type PolicyConditions, type PolicyConfig } from '../../config/policy-schema.ts';

/** The outcome of evaluating a policy for one request. */
export interface PolicyDecision {
  effect: 'allow' | 'deny';
  /** The rule that decided; undefined when the default applied. */
  rule: string | undefined;
  /** One line for the log, e.g. `denied by rule "vpce-only"`. */
  explanation: string;
}

/** A policy compiled once (patterns turned into matchers) and evaluated per request. */
export type CompiledPolicy = (input: AuthorizationInput) => PolicyDecision;

type Matcher = (attrs: Readonly<Record<PolicyAttribute, string | undefined>>) => boolean;

/** The attribute values of one request, by the names conditions use. */
export function policyAttributes(input: AuthorizationInput): Record<PolicyAttribute, string | undefined> {
  const md = input.requestMetadata;
  return {
    awsPrincipalArn: md.awsPrincipalArn,
    kmsOperation: md.kmsOperation,
    kmsKeyArn: md.kmsKeyArn,
    awsSourceVpc: md.awsSourceVpc,
    awsSourceVpce: md.awsSourceVpce,
    kmsViaService: md.kmsViaService,
    keyId: input.keyId,
    operation: input.operation,
  };
}

/**
 * Every listed condition must match; within one condition any pattern may match. A
 * condition on an attribute the request does not carry never matches (a request that did
 * not come through a VPC endpoint has no awsSourceVpce), so `unless: {awsSourceVpce: ...}`
 * denies requests without one.
 */
function compileConditions(conditions: PolicyConditions): Matcher {
  const tests: Array<[PolicyAttribute, Array<(v: string) => boolean>]> = [];
  for (const attr of POLICY_ATTRIBUTES) {
    const patterns = conditions[attr];
    if (patterns === undefined) continue;
    tests.push([attr, (Array.isArray(patterns) ? patterns : [patterns]).map(compileGlob)]);
  }
  return (attrs) =>
    tests.every(([attr, matchers]) => {
      const value = attrs[attr];
      return value !== undefined && matchers.some((m) => m(value));
    });
}

/**
 * Compiles a policy. Evaluation follows IAM's order so it reads the way AWS users expect:
 * any matching deny rule denies; otherwise any matching allow rule allows; otherwise the
 * policy's defaultEffect applies. A rule matches when all its conditions match and its
 * `unless` conditions (if any) do not all match.
 */
export function compilePolicy(policy: PolicyConfig): CompiledPolicy {
  const rules = policy.rules.map((r) => {
    const when = compileConditions(r);
    const unless = r.unless === undefined ? undefined : compileConditions(r.unless);
    return { name: r.name, effect: r.effect, matches: (a: Record<PolicyAttribute, string | undefined>) => when(a) && !(unless?.(a) ?? false) };
  });
  const denies = rules.filter((r) => r.effect === 'deny');
  const allows = rules.filter((r) => r.effect === 'allow');
  return (input) => {
    const attrs = policyAttributes(input);
    const deny = denies.find((r) => r.matches(attrs));
    if (deny !== undefined) return { effect: 'deny', rule: deny.name, explanation: `denied by rule "${deny.name}"` };
    const allow = allows.find((r) => r.matches(attrs));
    if (allow !== undefined) return { effect: 'allow', rule: allow.name, explanation: `allowed by rule "${allow.name}"` };
    return {
      effect: policy.defaultEffect,
      rule: undefined,
      explanation: `${policy.defaultEffect === 'deny' ? 'denied' : 'allowed'} by defaultEffect (no rule matched)`,
    };
  };
}
