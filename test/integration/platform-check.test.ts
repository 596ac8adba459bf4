/**
 * POST /v1/check over real HTTP against a real node with a fixed clock: the registration decision
 * per identifier type, the tokens form, retraction and expiry, monetization, input errors, and the
 * exact shape of the response.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nationalIdCheckChar } from '../../src/identifiers/index.js';
import {
  deviceId,
  email,
  FUTURE_NATIONAL_ID,
  json,
  listingBody,
  nationalId,
  paymentAccount,
  phone,
  PHONE_SPELLINGS,
  type CheckBody,
  type CreatedListingBody,
  type ErrorBody,
  type Identifier,
} from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

const START = new Date('2025-06-15T12:00:00.000Z');
let clock: Date;
let t: TestNode;
let write: string;
let checker: string;

beforeEach(async () => {
  clock = START;
  t = await createTestNode({ now: () => clock });
  write = await t.key('write');
  checker = await t.key('check');
});
afterEach(() => t.stop());

async function list(overrides: Record<string, unknown>): Promise<CreatedListingBody> {
  const res = await t.request('POST', '/v1/listings', { key: write, body: listingBody(overrides, clock) });
  expect(res.status).toBe(201);
  return json<CreatedListingBody>(res);
}

const checkRaw = (body: unknown) => t.request('POST', '/v1/check', { key: checker, body });

async function check(body: Record<string, unknown>): Promise<CheckBody> {
  const res = await checkRaw(body);
  expect(res.status).toBe(200);
  return json<CheckBody>(res);
}

const ALLOW = { decision: 'allow', purpose: 'registration', matches: [], penalties: [], rules: [] };

describe('POST /v1/check: registration decision by identifier type', () => {
  it.each([
    ['phone', phone()],
    ['national_id', nationalId()],
    ['payment_account', paymentAccount()],
  ])('a match through %s → deny', async (type, id) => {
    await list({ identifiers: [id] });
    const result = await check({ identifiers: [id] });
    expect(result.decision).toBe('deny');
    expect(result.penalties).toEqual([{ action: 'deny_registration', until: null, rule: 'registration.strong_identifier' }]);
    expect(result.rules).toEqual(['registration.strong_identifier']);
    expect(result.matches).toEqual([expect.objectContaining({ listingId: 'alpha:1', identifierType: type })]);
  });

  it.each([
    ['email', email()],
    ['device_id', deviceId()],
  ])('a match through %s only → review', async (_type, id) => {
    await list({ identifiers: [id] });
    const result = await check({ identifiers: [id] });
    expect(result.decision).toBe('review');
    expect(result.penalties).toEqual([{ action: 'manual_review', until: null, rule: 'registration.weak_identifier' }]);
  });

  it('a strong and a weak match together → deny, both rules fired', async () => {
    await list({ identifiers: [phone(), email()] });
    const result = await check({ identifiers: [email(), phone(PHONE_SPELLINGS[0])] });
    expect(result.decision).toBe('deny');
    expect(result.rules).toEqual(['registration.strong_identifier', 'registration.weak_identifier']);
    expect(result.matches.map((m) => m['identifierType'])).toEqual(['email', 'phone']);
  });

  it('no listing matches → allow, with nothing else', async () => {
    await list({ identifiers: [phone()] });
    expect(await check({ identifiers: [email(), deviceId(), phone('139 1234 5678')] })).toEqual(ALLOW);
  });

  it('a token matches only under its own identifier type', async () => {
    await list({ identifiers: [deviceId('49015420323751')] });
    // The same digits as a different type must not match the device listing.
    expect(await check({ identifiers: [{ type: 'payment_account', value: 'imei:49015420323751' }] })).toEqual(ALLOW);
  });
});

describe('POST /v1/check: listings that no longer count', () => {
  it('a retracted listing → allow', async () => {
    const listing = await list({ identifiers: [phone()] });
    expect((await check({ identifiers: [phone()] })).decision).toBe('deny');
    expect((await t.request('POST', `/v1/listings/${listing.id}/retract`, { key: write, body: { reason: 'appeal_upheld' } })).status).toBe(200);
    expect(await check({ identifiers: [phone()] })).toEqual(ALLOW);
  });

  it('an expired listing → allow, from the instant it expires', async () => {
    const expiresAt = new Date(START.getTime() + 3_600_000).toISOString();
    await list({ identifiers: [phone()], expiresAt });
    clock = new Date(Date.parse(expiresAt) - 1);
    expect((await check({ identifiers: [phone()] })).decision).toBe('deny');
    clock = new Date(Date.parse(expiresAt));
    expect(await check({ identifiers: [phone()] })).toEqual(ALLOW);
  });
});

describe('POST /v1/check: the tokens form', () => {
  it('tokens returned by the listing give the same decision as the identifiers', async () => {
    const listing = await list({ identifiers: [phone(), email()] });
    const byIdentifiers = await check({ identifiers: [phone(), email()] });
    const byTokens = await check({ tokens: listing.tokens });
    const withoutEpoch = await check({ tokens: listing.tokens.map(({ type, token }) => ({ type, token })) });
    expect(byIdentifiers.decision).toBe('deny');
    expect(byTokens).toEqual(byIdentifiers);
    expect(withoutEpoch).toEqual(byIdentifiers);
  });

  it('a token under another epoch or another type does not match', async () => {
    const [tok] = (await list({ identifiers: [phone()] })).tokens;
    expect(await check({ tokens: [{ ...tok!, epoch: 2 }] })).toEqual(ALLOW);
    expect(await check({ tokens: [{ ...tok!, type: 'email' }] })).toEqual(ALLOW);
  });
});

describe('POST /v1/check: monetization', () => {
  it('a temporary ban suspends monetization until the latest of its windows', async () => {
    // A 30-day ban: 2 × 30 days from bannedAt ends 2025-08-04; 3 months after banUntil ends later.
    await list({ identifiers: [phone()], bannedAt: '2025-06-05T12:00:00.000Z', banUntil: '2025-07-05T12:00:00.000Z' });
    const result = await check({ identifiers: [phone()], purpose: 'monetization' });
    expect(result).toMatchObject({
      decision: 'deny',
      purpose: 'monetization',
      penalties: [{ action: 'suspend_monetization', until: '2025-10-05T12:00:00.000Z', rule: 'monetization.suspension' }],
      rules: ['monetization.suspension'],
    });
  });

  it('after a temporary ban ends, registration is allowed but monetization stays suspended', async () => {
    await list({ identifiers: [phone()], bannedAt: '2025-06-05T12:00:00.000Z', banUntil: '2025-07-05T12:00:00.000Z' });
    clock = new Date('2025-08-01T00:00:00.000Z');
    const registration = await check({ identifiers: [phone()] });
    expect(registration.decision).toBe('allow');
    expect(registration.matches).toHaveLength(1);
    expect((await check({ identifiers: [phone()], purpose: 'monetization' })).decision).toBe('deny');
  });

  it('a permanent ban suspends monetization with no end', async () => {
    await list({ identifiers: [nationalId()] });
    const result = await check({ identifiers: [nationalId()], purpose: 'monetization' });
    expect(result.penalties).toEqual([{ action: 'suspend_monetization', until: null, rule: 'monetization.suspension' }]);
  });
});

describe('POST /v1/check: the response has exactly the documented fields', () => {
  it('top level, each match and each penalty', async () => {
    await list({ identifiers: [phone()], banUntil: '2026-01-01T00:00:00.000Z' });
    const result = await check({ identifiers: [phone()] });
    expect(Object.keys(result).sort()).toEqual(['decision', 'matches', 'penalties', 'purpose', 'rules']);
    expect(result.matches).toEqual([
      {
        listingId: 'alpha:1',
        origin: 'alpha',
        category: 'fraud',
        severity: 'severe',
        identifierType: 'phone',
        bannedAt: new Date(START.getTime() - 86_400_000).toISOString(),
        banUntil: '2026-01-01T00:00:00.000Z',
        expiresAt: expect.any(String) as string,
      },
    ]);
    expect(result.penalties).toEqual([{ action: 'deny_registration', until: '2026-01-01T00:00:00.000Z', rule: 'registration.strong_identifier' }]);
  });
});

describe('POST /v1/check: bad input → 400', () => {
  const tooMany: Identifier[] = Array.from({ length: 17 }, () => phone());
  it.each([
    ['both identifiers and tokens', { identifiers: [phone()], tokens: [{ type: 'phone', token: '0'.repeat(32) }] }, 'invalid_input'],
    ['neither identifiers nor tokens', {}, 'invalid_input'],
    ['only a purpose', { purpose: 'registration' }, 'invalid_input'],
    ['an empty identifiers list', { identifiers: [] }, 'invalid_input'],
    ['more identifiers than allowed', { identifiers: tooMany }, 'invalid_input'],
    ['a token that is not 32 hex characters', { tokens: [{ type: 'phone', token: 'ABC' }] }, 'invalid_input'],
    ['an unknown purpose', { identifiers: [phone()], purpose: 'advertising' }, 'invalid_input'],
    ['an unknown field', { identifiers: [phone()], country: 'CN' }, 'invalid_input'],
    ['an invalid identifier', { identifiers: [email(), phone('12345')] }, 'invalid_identifier'],
    ['a national ID born in the future', { identifiers: [nationalId(FUTURE_NATIONAL_ID)] }, 'invalid_identifier'],
  ])('%s', async (_name, body, code) => {
    const res = await checkRaw(body);
    expect(res.status).toBe(400);
    expect((await json<ErrorBody>(res)).error.code).toBe(code);
  });

  it('an invalid identifier is named by index and type only', async () => {
    const body = await json<ErrorBody>(await checkRaw({ identifiers: [email(), phone('12345')] }));
    expect(body.error.message).toMatch(/^identifiers\[1\] \(phone\): /);
    expect(body.error.message).not.toContain('12345');
  });

  it("a national ID is judged by the node's clock: born on its today → checked, born the next day → 400", async () => {
    const bornOn = (yyyymmdd: string) => nationalId(`110105${yyyymmdd}002${nationalIdCheckChar(`110105${yyyymmdd}002`)}`);
    const today = await checkRaw({ identifiers: [bornOn('20250615')] });
    expect(today.status).toBe(200);
    expect((await json<CheckBody>(today)).decision).toBe('allow');
    const tomorrow = await checkRaw({ identifiers: [email(), bornOn('20250616')] });
    expect(tomorrow.status).toBe(400);
    expect((await json<ErrorBody>(tomorrow)).error).toEqual({ code: 'invalid_identifier', message: 'identifiers[1] (national_id): birth date is in the future' });
  });
});
