import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addMonthsUtc, evaluatePolicy, monetizationSuspensionEnd, parsePolicy, type Decision, type Policy, type PolicyMatch } from '../../../src/policy/index.js';

/** The shipped default policy: these tests pin what the association's defaults do. */
function defaultPolicy(): Policy {
  const parsed = parsePolicy(JSON.parse(readFileSync(new URL('../../../config/policy.json', import.meta.url), 'utf8')));
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  return parsed.policy;
}

function withMonetization(changes: Partial<Policy['monetization']>): Policy {
  const policy = defaultPolicy();
  return { ...policy, monetization: { ...policy.monetization, ...changes } };
}

const POLICY = defaultPolicy();
const NOW = '2025-06-15T12:00:00.000Z';
const DAY = 86_400_000;
const at = (offsetMs: number): string => new Date(Date.parse(NOW) + offsetMs).toISOString();

const CORROBORATED = 'registration.corroborated';
const STRONG = 'registration.strong_identifier';
const WEAK = 'registration.weak_identifier';
const SUSPENSION = 'monetization.suspension';

/** An active phone listing from platform-a, a 60-day ban in force (began 30 days ago). */
function match(overrides: Partial<PolicyMatch> = {}): PolicyMatch {
  return {
    listingId: 'listing-1',
    origin: 'platform-a',
    category: 'fraud',
    severity: 'severe',
    identifierType: 'phone',
    status: 'active',
    bannedAt: at(-30 * DAY),
    banUntil: at(30 * DAY),
    expiresAt: at(365 * DAY),
    ...overrides,
  };
}

const ALLOW: Decision = { decision: 'allow', penalties: [], rules: [] };

function denied(until: string | null, rule = STRONG): Decision {
  return { decision: 'deny', penalties: [{ action: 'deny_registration', until, rule }], rules: [rule] };
}

function reviewed(until: string | null): Decision {
  return { decision: 'review', penalties: [{ action: 'manual_review', until, rule: WEAK }], rules: [WEAK] };
}

function suspended(until: string | null): Decision {
  return {
    decision: 'deny',
    penalties: [{ action: 'suspend_monetization', until, rule: SUSPENSION }],
    rules: [SUSPENSION],
  };
}

describe('evaluatePolicy: registration', () => {
  const until = at(30 * DAY);
  it.each<[string, PolicyMatch[], Decision, string?]>([
    ['no matches', [], ALLOW],
    ['national_id', [match({ identifierType: 'national_id' })], denied(until)],
    ['phone', [match({ identifierType: 'phone' })], denied(until)],
    ['payment_account', [match({ identifierType: 'payment_account' })], denied(until)],
    ['email', [match({ identifierType: 'email' })], reviewed(until)],
    ['device_id', [match({ identifierType: 'device_id' })], reviewed(until)],
    ['permanent ban', [match({ banUntil: null })], denied(null)],
    ['ban ended a day ago', [match({ banUntil: at(-DAY) })], ALLOW],
    ['ban ends exactly now', [match({ banUntil: NOW })], ALLOW],
    ['ban ends 1 ms from now', [match({ banUntil: at(1) })], denied(at(1))],
    ['retracted listing', [match({ status: 'retracted', banUntil: null })], ALLOW],
    ['expired listing (status)', [match({ status: 'expired', banUntil: null })], ALLOW],
    ['listing expiring exactly now', [match({ expiresAt: NOW, banUntil: null })], ALLOW],
    ['listing expired a day ago, status still active', [match({ expiresAt: at(-DAY) })], ALLOW],
    ['listing expiring 1 ms from now', [match({ expiresAt: at(1) })], denied(until)],
    ['penalty lasts until the latest ban among the matches', [match({ banUntil: at(10 * DAY) }), match({ listingId: 'listing-2', banUntil: at(90 * DAY) })], denied(at(90 * DAY))],
    ['a permanent ban among the matches makes the penalty permanent', [match({ banUntil: at(10 * DAY) }), match({ listingId: 'listing-2', banUntil: null })], denied(null)],
    [
      'two weak matches from the same origin are not corroborated',
      [match({ identifierType: 'email' }), match({ listingId: 'listing-2', identifierType: 'device_id', banUntil: at(40 * DAY) })],
      reviewed(at(40 * DAY)),
    ],
    [
      'a weak match corroborated by a retracted listing elsewhere stays review',
      [match({ identifierType: 'email' }), match({ listingId: 'listing-2', origin: 'platform-b', identifierType: 'email', status: 'retracted' })],
      reviewed(until),
    ],
    [
      'a weak match corroborated by an ended ban elsewhere stays review',
      [match({ identifierType: 'email' }), match({ listingId: 'listing-2', origin: 'platform-b', identifierType: 'device_id', banUntil: at(-1) })],
      reviewed(until),
    ],
    [
      'one listing matched through a strong and a weak identifier: deny, both rules fire',
      [match({ identifierType: 'phone' }), match({ identifierType: 'email' })],
      {
        decision: 'deny',
        penalties: [
          { action: 'deny_registration', until, rule: STRONG },
          { action: 'manual_review', until, rule: WEAK },
        ],
        rules: [STRONG, WEAK],
      },
    ],
  ])('%s', (_name, matches, expected) => {
    expect(evaluatePolicy(POLICY, 'registration', matches, new Date(NOW))).toEqual(expected);
  });

  it('denies weak matches corroborated by two distinct origins', () => {
    const matches = [match({ identifierType: 'email', banUntil: at(20 * DAY) }), match({ listingId: 'listing-2', origin: 'platform-b', identifierType: 'device_id', banUntil: at(50 * DAY) })];
    expect(evaluatePolicy(POLICY, 'registration', matches, new Date(NOW))).toEqual({
      decision: 'deny',
      penalties: [
        { action: 'deny_registration', until: at(50 * DAY), rule: CORROBORATED },
        { action: 'manual_review', until: at(50 * DAY), rule: WEAK },
      ],
      rules: [CORROBORATED, WEAK],
    });
  });

  it('records an allow rule that fired without imposing anything', () => {
    const policy: Policy = {
      ...POLICY,
      registration: {
        rules: [{ name: 'registration.note_device', when: { identifierTypes: ['device_id'] }, decision: 'allow' }],
      },
    };
    expect(evaluatePolicy(policy, 'registration', [match({ identifierType: 'device_id' })], new Date(NOW))).toEqual({
      decision: 'allow',
      penalties: [],
      rules: ['registration.note_device'],
    });
  });

  it('requires both conditions when a rule sets both', () => {
    const policy: Policy = {
      ...POLICY,
      registration: {
        rules: [
          {
            name: 'registration.corroborated_email',
            when: { identifierTypes: ['email'], minDistinctOrigins: 2 },
            decision: 'deny',
            penalty: 'deny_registration',
          },
        ],
      },
    };
    const emailA = match({ identifierType: 'email' });
    const phoneB = match({ listingId: 'listing-2', origin: 'platform-b', identifierType: 'phone' });
    const emailB = { ...phoneB, identifierType: 'email' as const };
    expect(evaluatePolicy(policy, 'registration', [emailA, phoneB], new Date(NOW))).toEqual(ALLOW);
    expect(evaluatePolicy(policy, 'registration', [emailA, emailB], new Date(NOW)).decision).toBe('deny');
  });
});

describe('evaluatePolicy: monetization', () => {
  // A 7-day ban that ended exactly three months before NOW: its 2× window ended long ago.
  const shortBan = { bannedAt: '2025-03-08T12:00:00.000Z', banUntil: '2025-03-15T12:00:00.000Z' };
  // A 1-year ban (365 days, no 29 February inside) that ended two weeks before NOW.
  const yearBan = { bannedAt: '2024-06-01T00:00:00.000Z', banUntil: '2025-06-01T00:00:00.000Z' };

  interface Row {
    name: string;
    policy?: Policy;
    matches: PolicyMatch[];
    now?: string;
    /** The suspension's until-time, or 'allow' when nothing is suspended. */
    until: string | null | 'allow';
  }
  const factor = (suspensionFactor: number): Policy => withMonetization({ suspensionFactor });
  const listing2 = { listingId: 'listing-2' };

  it.each<Row>([
    { name: 'no matches', matches: [], until: 'allow' },
    // 60-day ban ending Jul 15: 2× window ends Sep 13, before the clean period ends Oct 15.
    { name: 'ban in force', matches: [match()], until: '2025-10-15T12:00:00.000Z' },
    {
      name: 'ban ended a month ago: 3-month clean period',
      matches: [match({ bannedAt: '2025-05-06T12:00:00.000Z', banUntil: '2025-05-15T12:00:00.000Z' })],
      until: '2025-08-15T12:00:00.000Z',
    },
    { name: '1 ms before the 3-month edge', matches: [match(shortBan)], now: at(-1), until: NOW },
    { name: 'at the 3-month edge, 2× window over', matches: [match(shortBan)], until: 'allow' },
    { name: '1-year ban: 2× window outlasts 3 months', matches: [match(yearBan)], until: '2026-06-01T00:00:00.000Z' },
    {
      name: '1-year ban, 6 months after it ended',
      matches: [match(yearBan)],
      now: '2025-12-01T00:00:00.000Z',
      until: '2026-06-01T00:00:00.000Z',
    },
    {
      name: '1-year ban at the end of the 2× window',
      matches: [match(yearBan)],
      now: '2026-06-01T00:00:00.000Z',
      until: 'allow',
    },
    { name: 'factor 3', policy: factor(3), matches: [match(yearBan)], until: '2027-06-01T00:00:00.000Z' },
    {
      name: 'factor 2.5 rounds up to the next ms',
      policy: factor(2.5),
      matches: [match({ bannedAt: '2025-06-01T00:00:00.000Z', banUntil: '2025-06-01T00:00:00.001Z' })],
      until: '2025-09-01T00:00:00.001Z',
    },
    {
      name: 'clean period 0: only the 2× window',
      policy: withMonetization({ cleanPeriodMonths: 0 }),
      matches: [match(yearBan)],
      until: '2026-06-01T00:00:00.000Z',
    },
    { name: 'permanent ban', matches: [match({ banUntil: null })], until: null },
    {
      name: 'latest window among the matches',
      matches: [match(), match({ ...listing2, ...yearBan })],
      until: '2026-06-01T00:00:00.000Z',
    },
    {
      name: 'a permanent ban among the matches',
      matches: [match(yearBan), match({ ...listing2, banUntil: null })],
      until: null,
    },
    { name: 'retracted listing', matches: [match({ status: 'retracted', banUntil: null })], until: 'allow' },
    { name: 'expired listing (status)', matches: [match({ status: 'expired', banUntil: null })], until: 'allow' },
    { name: 'listing expiring exactly now', matches: [match({ expiresAt: NOW, banUntil: null })], until: 'allow' },
    // Month-end clamping: Nov 30 + 3 months = Feb 28, or Feb 29 in a leap year.
    {
      name: 'clean period clamps to February 28',
      matches: [match({ bannedAt: '2025-11-29T00:00:00.000Z', banUntil: '2025-11-30T00:00:00.000Z' })],
      now: '2026-01-01T00:00:00.000Z',
      until: '2026-02-28T00:00:00.000Z',
    },
    {
      name: 'clean period clamps to February 29 in a leap year',
      matches: [match({ bannedAt: '2023-11-29T00:00:00.000Z', banUntil: '2023-11-30T00:00:00.000Z' })],
      now: '2024-01-01T00:00:00.000Z',
      until: '2024-02-29T00:00:00.000Z',
    },
  ])('$name', ({ policy = POLICY, matches, now = NOW, until }) => {
    const expected = until === 'allow' ? ALLOW : suspended(until);
    expect(evaluatePolicy(policy, 'monetization', matches, new Date(now))).toEqual(expected);
  });

  it('an ended ban allows registration but still suspends monetization', () => {
    const ended = [match({ bannedAt: '2025-05-01T12:00:00.000Z', banUntil: '2025-06-01T12:00:00.000Z' })];
    expect(evaluatePolicy(POLICY, 'registration', ended, new Date(NOW))).toEqual(ALLOW);
    const expected = suspended('2025-09-01T12:00:00.000Z');
    expect(evaluatePolicy(POLICY, 'monetization', ended, new Date(NOW))).toEqual(expected);
  });
});

describe('monetizationSuspensionEnd', () => {
  it('is the latest of ban end, clean period and 2× window', () => {
    const ban = { bannedAt: '2025-01-01T00:00:00Z', banUntil: '2025-01-11T00:00:00Z' };
    const end = monetizationSuspensionEnd(POLICY, ban);
    expect(end?.toISOString()).toBe('2025-04-11T00:00:00.000Z');
  });

  it('is null for a permanent ban', () => {
    expect(monetizationSuspensionEnd(POLICY, { bannedAt: '2025-01-01T00:00:00Z', banUntil: null })).toBeNull();
  });

  it('reads offsets other than Z', () => {
    const ban = { bannedAt: '2025-01-01T08:00:00+08:00', banUntil: '2025-01-11T08:00:00+08:00' };
    const end = monetizationSuspensionEnd(POLICY, ban);
    expect(end?.toISOString()).toBe('2025-04-11T00:00:00.000Z');
  });
});

describe('addMonthsUtc', () => {
  it.each([
    ['2025-01-31T10:20:30.400Z', 1, '2025-02-28T10:20:30.400Z'],
    ['2024-01-31T00:00:00.000Z', 1, '2024-02-29T00:00:00.000Z'],
    ['2025-03-31T00:00:00.000Z', 1, '2025-04-30T00:00:00.000Z'],
    ['2025-08-31T00:00:00.000Z', 3, '2025-11-30T00:00:00.000Z'],
    ['2025-12-31T00:00:00.000Z', 2, '2026-02-28T00:00:00.000Z'],
    ['2025-11-15T23:59:59.999Z', 3, '2026-02-15T23:59:59.999Z'],
    ['2025-05-31T00:00:00.000Z', 0, '2025-05-31T00:00:00.000Z'],
    ['2025-01-15T00:00:00.000Z', 24, '2027-01-15T00:00:00.000Z'],
  ])('%s + %i months = %s', (from, months, expected) => {
    expect(addMonthsUtc(new Date(from), months).toISOString()).toBe(expected);
  });
});

describe('evaluatePolicy: malformed input fails loudly', () => {
  it.each([
    ['a date without time', { banUntil: '2025-07-01' }],
    ['a date-time without offset (would be read as local time)', { banUntil: '2025-07-01T00:00:00' }],
    ['free text', { expiresAt: 'next year' }],
  ])('rejects %s', (_name, overrides) => {
    expect(() => evaluatePolicy(POLICY, 'registration', [match(overrides)], new Date(NOW))).toThrow(RangeError);
  });

  it('rejects an invalid now', () => {
    expect(() => evaluatePolicy(POLICY, 'registration', [], new Date(Number.NaN))).toThrow(RangeError);
  });
});
