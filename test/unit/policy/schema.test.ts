import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../../src/policy/index.js';

type Obj = Record<string, unknown>;
/** The policy file as plain JSON, typed just enough for tests to break one field at a time. */
interface PolicyJson extends Obj {
  registration: Obj & { rules: Obj[] };
  monetization: Obj;
}

/** The shipped default, parsed from disk: this test keeps config/policy.json valid. */
function shipped(): PolicyJson {
  return JSON.parse(readFileSync(new URL('../../../config/policy.json', import.meta.url), 'utf8')) as PolicyJson;
}

function variant(edit: (policy: PolicyJson) => void): unknown {
  const policy = structuredClone(shipped());
  edit(policy);
  return policy;
}

function rule(policy: PolicyJson, index: number): Obj {
  const found = policy.registration.rules[index];
  if (found === undefined) throw new Error(`the shipped policy has no rule ${index}`);
  return found;
}

const m = (policy: PolicyJson): Obj => policy.monetization;

function errorsOf(json: unknown): string[] {
  const result = parsePolicy(json);
  return result.ok ? [] : result.errors;
}

describe('parsePolicy: the shipped default', () => {
  it('parses config/policy.json', () => {
    const result = parsePolicy(shipped());
    expect(result.ok ? [] : result.errors).toEqual([]);
    if (!result.ok) return;
    expect(result.policy.registration.rules.map((r) => r.name)).toEqual(['registration.corroborated', 'registration.strong_identifier', 'registration.weak_identifier']);
    expect(result.policy.monetization).toMatchObject({ suspensionFactor: 2, cleanPeriodMonths: 3 });
  });
});

describe('parsePolicy: valid variants', () => {
  it.each<[string, (p: PolicyJson) => void]>([
    ['factor 3', (p) => (m(p).suspensionFactor = 3)],
    ['factor 2.5', (p) => (m(p).suspensionFactor = 2.5)],
    ['clean period 0', (p) => (m(p).cleanPeriodMonths = 0)],
    ['clean period 24', (p) => (m(p).cleanPeriodMonths = 24)],
    [
      'no comments',
      (p) => {
        delete p.comment;
        delete m(p).comment;
        for (const r of p.registration.rules) delete r.comment;
      },
    ],
    [
      'an allow rule without a penalty',
      (p) => {
        const note = { name: 'registration.note', when: { identifierTypes: ['device_id'] }, decision: 'allow' };
        p.registration.rules.push(note);
      },
    ],
    ['a rule with both conditions', (p) => (rule(p, 0).when = { minDistinctOrigins: 2, identifierTypes: ['email'] })],
  ])('%s', (_name, edit) => {
    expect(errorsOf(variant(edit))).toEqual([]);
  });
});

const TYPES = '"phone", "email", "national_id", "device_id", "payment_account"';

describe('parsePolicy: each invalid variant names the path', () => {
  it.each<[string, (p: PolicyJson) => void, string]>([
    ['factor below 2', (p) => (m(p).suspensionFactor = 1.5), 'monetization.suspensionFactor: must be between 2 and 3'],
    ['factor above 3', (p) => (m(p).suspensionFactor = 3.5), 'monetization.suspensionFactor: must be between 2 and 3'],
    ['factor as a string', (p) => (m(p).suspensionFactor = '2'), 'monetization.suspensionFactor: must be a number'],
    ['factor missing', (p) => delete m(p).suspensionFactor, 'monetization.suspensionFactor: is required'],
    ['clean period fractional', (p) => (m(p).cleanPeriodMonths = 2.5), 'monetization.cleanPeriodMonths: must be an integer between 0 and 24'],
    ['clean period negative', (p) => (m(p).cleanPeriodMonths = -1), 'monetization.cleanPeriodMonths: must be an integer between 0 and 24'],
    ['clean period above 24', (p) => (m(p).cleanPeriodMonths = 25), 'monetization.cleanPeriodMonths: must be an integer between 0 and 24'],
    ['monetization penalty not suspension', (p) => (m(p).penalty = 'deny_registration'), 'monetization.penalty: must be "suspend_monetization"'],
    [
      'misspelt key',
      (p) => {
        m(p).suspensonFactor = m(p).suspensionFactor;
        delete m(p).suspensionFactor;
      },
      'monetization.suspensonFactor: unknown key',
    ],
    ['unknown top-level key', (p) => (p.rules = []), 'rules: unknown key'],
    ['version 2', (p) => (p.version = 2), 'version: must be 1'],
    ['registration missing', (p) => Reflect.deleteProperty(p, 'registration'), 'registration: is required'],
    ['no registration rules', (p) => (p.registration.rules = []), 'registration.rules: must contain at least one rule'],
    ['duplicate rule name', (p) => (rule(p, 2).name = 'registration.corroborated'), 'registration.rules[2].name: duplicate rule name "registration.corroborated"'],
    ['rule named like the monetization rule', (p) => (rule(p, 1).name = 'monetization.suspension'), 'registration.rules[1].name: duplicate rule name "monetization.suspension"'],
    ['rule name with spaces', (p) => (rule(p, 0).name = 'Strong ID'), 'registration.rules[0].name: must be lower-case'],
    ['rule name missing', (p) => delete rule(p, 0).name, 'registration.rules[0].name: is required'],
    ['unknown identifier type', (p) => (rule(p, 1).when = { identifierTypes: ['imei'] }), `registration.rules[1].when.identifierTypes[0]: must be one of ${TYPES}`],
    ['duplicate identifier type', (p) => (rule(p, 2).when = { identifierTypes: ['email', 'email'] }), 'registration.rules[2].when.identifierTypes[1]: duplicate identifier type "email"'],
    ['empty identifier types', (p) => (rule(p, 2).when = { identifierTypes: [] }), 'registration.rules[2].when.identifierTypes: must list at least one identifier type'],
    ['empty condition', (p) => (rule(p, 2).when = {}), 'registration.rules[2].when: must set identifierTypes or minDistinctOrigins (or both)'],
    ['one origin is no corroboration', (p) => (rule(p, 0).when = { minDistinctOrigins: 1 }), 'registration.rules[0].when.minDistinctOrigins: must be an integer of at least 2'],
    ['unknown decision', (p) => (rule(p, 0).decision = 'block'), 'registration.rules[0].decision: must be one of "allow", "review", "deny"'],
    ['unknown penalty', (p) => (rule(p, 0).penalty = 'ban_forever'), 'registration.rules[0].penalty: must be one of "deny_registration", "manual_review"'],
    ['suspension as a registration penalty', (p) => (rule(p, 0).penalty = 'suspend_monetization'), 'registration.rules[0].penalty: must be one of "deny_registration", "manual_review"'],
    ['deny without a penalty', (p) => delete rule(p, 0).penalty, 'registration.rules[0].penalty: is required when decision is "deny"'],
    ['allow with a penalty', (p) => (rule(p, 2).decision = 'allow'), 'registration.rules[2].penalty: must be absent when decision is "allow"'],
  ])('%s', (_name, edit, expected) => {
    const errors = errorsOf(variant(edit));
    expect(
      errors.some((e) => e.startsWith(expected)),
      errors.join('\n'),
    ).toBe(true);
  });

  it.each([null, [], 'policy', 1])('rejects a non-object root (%j)', (json) => {
    expect(errorsOf(json)).toEqual(['(root): must be an object']);
  });

  it('reports every problem at once', () => {
    const errors = errorsOf(
      variant((p) => {
        m(p).suspensionFactor = 4;
        m(p).cleanPeriodMonths = 36;
        rule(p, 1).decision = 'block';
      }),
    );
    expect(errors).toEqual([
      'registration.rules[1].decision: must be one of "allow", "review", "deny"',
      'monetization.suspensionFactor: must be between 2 and 3',
      'monetization.cleanPeriodMonths: must be an integer between 0 and 24',
    ]);
  });
});
