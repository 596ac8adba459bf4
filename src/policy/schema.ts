/**
 * The policy file's schema. The file is edited by hand (docs/POLICY.md), so validation is strict
 * and every error names the JSON path and what is wrong: an unknown key is an error, not a setting
 * silently ignored (a misspelt `suspensionFactor` must not fall back to anything), and there are no
 * defaults, so the file alone says what the node enforces.
 */
import { z } from 'zod';
import { IDENTIFIER_TYPES } from '../identifiers/types.js';
import { DECISIONS, REGISTRATION_PENALTIES, type Policy } from './types.js';

/** Rule names appear in decisions, logs and audit reports: keep them plain and stable. */
const RULE_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const RULE_NAME_MAX = 64;

const ruleName = z
  .string()
  .max(RULE_NAME_MAX, { error: `must be at most ${RULE_NAME_MAX} characters` })
  .regex(RULE_NAME, {
    error: 'must be lower-case words of [a-z0-9_] joined by ".", e.g. "registration.strong_identifier"',
  });

const comment = z.string().optional();

const identifierTypes = z
  .array(z.enum(IDENTIFIER_TYPES))
  .min(1, { error: 'must list at least one identifier type' })
  .superRefine((types, ctx) => {
    types.forEach((type, i) => {
      if (types.indexOf(type) !== i) {
        ctx.addIssue({ code: 'custom', path: [i], message: `duplicate identifier type "${type}"` });
      }
    });
  });

const registrationCondition = z
  .strictObject({
    identifierTypes: identifierTypes.optional(),
    // 1 would be "any match", which identifierTypes alone already says.
    minDistinctOrigins: z.number().int({ error: 'must be an integer of at least 2' }).min(2, { error: 'must be an integer of at least 2' }).optional(),
  })
  .superRefine((when, ctx) => {
    if (when.identifierTypes === undefined && when.minDistinctOrigins === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must set identifierTypes or minDistinctOrigins (or both)' });
    }
  });

const registrationRule = z
  .strictObject({
    name: ruleName,
    comment,
    when: registrationCondition,
    decision: z.enum(DECISIONS),
    penalty: z.enum(REGISTRATION_PENALTIES).optional(),
  })
  .superRefine((rule, ctx) => {
    // A review or deny without a penalty would reach the platform with nothing to enforce; an
    // allow with a penalty would impose something while saying "allow".
    if (rule.decision !== 'allow' && rule.penalty === undefined) {
      ctx.addIssue({ code: 'custom', path: ['penalty'], message: `is required when decision is "${rule.decision}"` });
    }
    if (rule.decision === 'allow' && rule.penalty !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['penalty'], message: 'must be absent when decision is "allow"' });
    }
  });

const monetizationRule = z.strictObject({
  name: ruleName,
  comment,
  // The CAC "Qinglang" rectification: suspend profit privileges for 2–3× the ban duration.
  suspensionFactor: z.number().min(2, { error: 'must be between 2 and 3' }).max(3, { error: 'must be between 2 and 3' }),
  cleanPeriodMonths: z
    .number()
    .int({ error: 'must be an integer between 0 and 24' })
    .min(0, { error: 'must be an integer between 0 and 24' })
    .max(24, { error: 'must be an integer between 0 and 24' }),
  penalty: z.literal('suspend_monetization'),
});

/** Annotated with the hand-written `Policy` so the two cannot drift apart. */
export const policySchema: z.ZodType<Policy> = z
  .strictObject({
    version: z.literal(1),
    comment,
    registration: z.strictObject({
      rules: z.array(registrationRule).min(1, { error: 'must contain at least one rule' }),
    }),
    monetization: monetizationRule,
  })
  .superRefine((policy, ctx) => {
    // Names identify rules in decisions and audit reports, so they are unique across the file.
    const seen = new Set<string>([policy.monetization.name]);
    policy.registration.rules.forEach((rule, i) => {
      if (seen.has(rule.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['registration', 'rules', i, 'name'],
          message: `duplicate rule name "${rule.name}"`,
        });
      }
      seen.add(rule.name);
    });
  });

export type ParsePolicyResult = { ok: true; policy: Policy } | { ok: false; errors: string[] };

/**
 * Validates a parsed policy file (the caller reads and JSON-parses it). Never throws; returns every
 * problem found, each as `path: why`, e.g. `monetization.suspensionFactor: must be between 2 and 3`.
 */
export function parsePolicy(json: unknown): ParsePolicyResult {
  const result = policySchema.safeParse(json, { error: plainMessage });
  if (result.success) return { ok: true, policy: result.data };
  const errors = result.error.issues.flatMap((issue) => {
    // One line per unknown key, pointing at the key itself, so a typo is easy to find.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown key`);
    }
    return [`${formatPath(issue.path)}: ${issue.message}`];
  });
  return { ok: false, errors };
}

/** Zod's default messages, reworded for someone editing JSON by hand. */
function plainMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.input === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_value')) {
    return 'is required';
  }
  if (issue.code === 'invalid_type') return `must be ${article(issue.expected)}`;
  if (issue.code === 'invalid_value') {
    const values = issue.values.map((v) => JSON.stringify(v));
    return values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(', ')}`;
  }
  return undefined;
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** `["registration","rules",1,"name"]` → `registration.rules[1].name`. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`)).join('');
}
