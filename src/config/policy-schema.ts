import { z } from 'zod';

/** One pattern or a list of them (any may match); `*` matches any run of characters, `?` one. */
const patternsSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/**
 * The request attributes a rule can test: requestMetadata fields KMS sends (spec Appendix
 * B), the externalKeyId from the URI, and the XKS operation.
 */
const conditionShape = {
  awsPrincipalArn: patternsSchema.optional(),
  kmsOperation: patternsSchema.optional(),
  kmsKeyArn: patternsSchema.optional(),
  awsSourceVpc: patternsSchema.optional(),
  awsSourceVpce: patternsSchema.optional(),
  kmsViaService: patternsSchema.optional(),
  keyId: patternsSchema.optional(),
  operation: patternsSchema.optional(),
};

/** Names of the attributes a policy condition can test. */
export const POLICY_ATTRIBUTES = Object.keys(conditionShape) as Array<keyof typeof conditionShape>;

const conditionsSchema = z.object(conditionShape).strict();

const ruleSchema = z
  .object({
    /** Shown in the log line of every request this rule denies. */
    name: z.string().min(1),
    effect: z.enum(['allow', 'deny']),
    /** The rule does not apply when every condition listed here matches. */
    unless: conditionsSchema.optional(),
    ...conditionShape,
  })
  .strict();

/** A key store's secondary authorization policy (spec "Authorization"). */
export const policySchema = z
  .object({
    /** Log would-be denials, but let the requests through. */
    dryRun: z.boolean().default(false),
    /** Decision when no rule matches. */
    defaultEffect: z.enum(['allow', 'deny']).default('deny'),
    rules: z.array(ruleSchema).default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.rules.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `duplicate rule name "${r.name}"` });
      seen.add(r.name);
    });
  });

/** A parsed policy. */
export type PolicyConfig = z.infer<typeof policySchema>;
/** The conditions of a rule (or of its `unless`). */
export type PolicyConditions = z.infer<typeof conditionsSchema>;
/** An attribute a condition can test. */
export type PolicyAttribute = (typeof POLICY_ATTRIBUTES)[number];
