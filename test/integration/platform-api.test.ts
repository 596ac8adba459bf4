/**
 * The platform API's listing endpoints over real HTTP against a real node: POST /v1/listings,
 * POST /v1/listings/:id/retract and GET /v1/listings/:id, their success paths and every error
 * path. Bad input must write nothing: each rejected request is followed by a look at the log.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BAD_NATIONAL_ID, FUTURE_NATIONAL_ID, DAY_MS, email, json, listingBody, nationalId, phone, PHONE, PHONE_SPELLINGS, type CreatedListingBody, type ErrorBody } from '../helpers/fixtures.js';
import { rowCounts as countRows, queryRows } from '../helpers/db-query.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode;
let write: string;

beforeEach(async () => {
  t = await createTestNode();
  write = await t.key('write');
});
afterEach(() => t.stop());

const create = (body: unknown) => t.request('POST', '/v1/listings', { key: write, body });
const retract = (id: string, body: unknown = { reason: 'appeal_upheld' }) => t.request('POST', `/v1/listings/${id}/retract`, { key: write, body });
const get = (id: string) => t.request('GET', `/v1/listings/${id}`, { key: write });

const rowCounts = () => countRows(t.node.database);

async function expectError(res: Response, status: number, code: string, message?: RegExp): Promise<ErrorBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = await json<ErrorBody>(res);
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(body.error.code).toBe(code);
  if (message) expect(body.error.message).toMatch(message);
  return body;
}

describe('POST /v1/listings: success', () => {
  it('returns 201 with the id, origin, seq, status and one token per identifier and epoch', async () => {
    const res = await create(listingBody({ identifiers: [phone(), email()] }));
    expect(res.status).toBe(201);
    const body = await json<CreatedListingBody>(res);
    expect(Object.keys(body).sort()).toEqual(['id', 'origin', 'seq', 'status', 'tokens']);
    expect(body).toMatchObject({ id: 'alpha:1', origin: 'alpha', seq: 1, status: 'active' });
    expect(body.tokens.map((tok) => [tok.type, tok.epoch])).toEqual([
      ['phone', 1],
      ['email', 1],
    ]);
    for (const tok of body.tokens) expect(tok.token).toMatch(/^[0-9a-f]{32}$/);
    expect(await rowCounts()).toEqual({ log: 1, listings: 1, tokens: 2 });
  });

  it('numbers log entries gap-free from 1, retractions included', async () => {
    const seqs: number[] = [];
    for (let i = 0; i < 3; i++) seqs.push((await json<CreatedListingBody>(await create(listingBody()))).seq);
    expect((await retract('alpha:2')).status).toBe(200);
    seqs.push((await json<CreatedListingBody>(await create(listingBody()))).seq);
    expect(seqs).toEqual([1, 2, 3, 5]);
    const logSeqs = (await queryRows<{ seq: number }>(t.node.database, 'SELECT seq FROM log_entries ORDER BY seq')).map((r) => Number(r.seq));
    expect(logSeqs).toEqual([1, 2, 3, 4, 5]);
  });

  it('gives one token for every spelling of the same phone number', async () => {
    const tokens = new Set<string>();
    for (const spelling of [PHONE, ...PHONE_SPELLINGS]) {
      const body = await json<CreatedListingBody>(await create(listingBody({ identifiers: [phone(spelling)] })));
      tokens.add(body.tokens[0]!.token);
    }
    expect(tokens.size).toBe(1);
  });

  it('stores what GET /v1/listings/:id returns, with the default expiry of a permanent ban', async () => {
    const bannedAt = '2025-01-01T00:00:00.000Z';
    const created = await json<CreatedListingBody>(await create(listingBody({ bannedAt, reference: 'acct-42' })));
    const res = await get(created.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      id: 'alpha:1',
      status: 'active',
      category: 'fraud',
      severity: 'severe',
      bannedAt,
      banUntil: null,
      expiresAt: new Date(Date.parse(bannedAt) + 1095 * DAY_MS).toISOString(),
      reference: 'acct-42',
      retractedAt: null,
      tokens: created.tokens,
    });
  });
});

describe('POST /v1/listings: bad input is rejected and writes nothing', () => {
  const tooMany = Array.from({ length: 17 }, () => phone());
  const cases: [string, unknown, RegExp][] = [
    ['a non-severe listing', listingBody({ severity: 'moderate' }), /^severity: /],
    ['an unknown category', listingBody({ category: 'jaywalking' }), /^category: /],
    ['banUntil before bannedAt', listingBody({ bannedAt: '2025-01-02T00:00:00Z', banUntil: '2025-01-01T00:00:00Z' }), /^banUntil: /],
    ['bannedAt in the future', listingBody({ bannedAt: new Date(Date.now() + DAY_MS).toISOString() }), /^bannedAt: /],
    ['bannedAt that is not a date-time', listingBody({ bannedAt: 'yesterday' }), /^bannedAt: /],
    ['expiresAt in the past', listingBody({ expiresAt: '2000-01-01T00:00:00Z' }), /^expiresAt: /],
    ['an unknown field', listingBody({ userName: 'someone' }), /userName/],
    ['a missing field', { identifiers: [phone()], category: 'fraud', severity: 'severe' }, /^banUntil: /],
    ['an unknown identifier type', listingBody({ identifiers: [{ type: 'passport', value: 'E12345678' }] }), /^identifiers\[0\]\.type: /],
    ['no identifiers', listingBody({ identifiers: [] }), /^identifiers: /],
    ['more identifiers than http.maxIdentifiersPerRequest', listingBody({ identifiers: tooMany }), /^identifiers: /],
    ['a JSON array', '[]', /^body: /],
    ['an empty body', '', /JSON/],
    ['a body that is not JSON', '{"identifiers": [', /^body is not valid JSON$/],
  ];
  it.each(cases)('%s → 400 invalid_input', async (_name, body, message) => {
    await expectError(await create(body), 400, 'invalid_input', message);
    expect(await rowCounts()).toEqual({ log: 0, listings: 0, tokens: 0 });
    expect((await get('alpha:1')).status).toBe(404);
  });

  it('an invalid identifier → 400 invalid_identifier naming its index and type, never its value', async () => {
    const res = await create(listingBody({ identifiers: [phone(), nationalId(BAD_NATIONAL_ID)] }));
    const body = await expectError(res, 400, 'invalid_identifier', /^identifiers\[1\] \(national_id\): /);
    expect(body.error.message).not.toContain(BAD_NATIONAL_ID);
    expect(await rowCounts()).toEqual({ log: 0, listings: 0, tokens: 0 });
    // Nothing was consumed: the next good listing is still seq 1.
    expect((await json<CreatedListingBody>(await create(listingBody()))).seq).toBe(1);
  });

  it('a national ID born in the future → 400 invalid_identifier, nothing written', async () => {
    const res = await create(listingBody({ identifiers: [nationalId(FUTURE_NATIONAL_ID)] }));
    const body = await expectError(res, 400, 'invalid_identifier', /^identifiers\[0\] \(national_id\): birth date is in the future$/);
    expect(body.error.message).not.toContain(FUTURE_NATIONAL_ID);
    expect(await rowCounts()).toEqual({ log: 0, listings: 0, tokens: 0 });
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['form data', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['a look-alike type', { 'content-type': 'application/jsonp' }],
  ])('a body sent as %s → 415', async (_name, headers) => {
    const res = await t.request('POST', '/v1/listings', { key: write, body: JSON.stringify(listingBody()), headers });
    await expectError(res, 415, 'unsupported_media_type');
    expect((await rowCounts()).log).toBe(0);
  });

  it('a body without a content type → 415', async () => {
    const res = await fetch(`${t.url}/v1/listings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${write}` },
      body: new Blob([JSON.stringify(listingBody())]),
    });
    await expectError(res, 415, 'unsupported_media_type');
  });

  it('a body over the default 256 KiB limit → 413', async () => {
    const body = listingBody({ reference: 'x'.repeat(300 * 1024) });
    await expectError(await create(body), 413, 'payload_too_large');
    expect((await rowCounts()).log).toBe(0);
  });
});

describe('POST /v1/listings: a configured http.maxBodyBytes', () => {
  it('rejects a body over the limit with 413 and accepts one under it', async () => {
    const small = await createTestNode({ extra: { http: { maxBodyBytes: 2048 } } });
    try {
      const key = await small.key('write');
      const over = await small.request('POST', '/v1/listings', { key, body: listingBody({ reference: 'x'.repeat(2100) }) });
      await expectError(over, 413, 'payload_too_large', /2048 bytes/);
      const under = await small.request('POST', '/v1/listings', { key, body: listingBody({ reference: 'x'.repeat(100) }) });
      expect(under.status).toBe(201);
    } finally {
      await small.stop();
    }
  });
});

describe('POST /v1/listings/:id/retract', () => {
  beforeEach(async () => {
    expect((await create(listingBody())).status).toBe(201);
  });

  it('retracts an active listing: 200 with status retracted', async () => {
    const res = await retract('alpha:1', { reason: 'mistaken_identity' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id: 'alpha:1', status: 'retracted', retractionReason: 'mistaken_identity' });
    expect(typeof body['retractedAt']).toBe('string');
    expect(await rowCounts()).toMatchObject({ log: 2, listings: 1 });
  });

  it('a second retraction → 409 and no new log entry', async () => {
    expect((await retract('alpha:1')).status).toBe(200);
    await expectError(await retract('alpha:1'), 409, 'conflict');
    expect((await rowCounts()).log).toBe(2);
  });

  it.each(['alpha:99', 'beta:1', 'alpha:2'])('an unknown listing %s → 404', async (id) => {
    await expectError(await retract(id), 404, 'not_found');
    expect((await rowCounts()).log).toBe(1);
  });

  it.each(['nonsense', 'alpha:0', 'alpha:-1', 'alpha:1x', 'Alpha:1', 'x', `alpha:${'9'.repeat(80)}`])('a malformed id %s → 404', async (id) => {
    await expectError(await retract(encodeURIComponent(id)), 404, 'not_found');
    expect((await rowCounts()).log).toBe(1);
  });

  it.each([
    ['an unknown reason', { reason: 'changed_my_mind' }, 400],
    ['no reason', {}, 400],
    ['an unknown field', { reason: 'other', note: 'x' }, 400],
    ['a body that is not JSON', 'reason=other', 400],
  ] as const)('%s → 400 and the listing stays active', async (_name, body, status) => {
    await expectError(await retract('alpha:1', body), status, 'invalid_input');
    expect(await json<{ status: string }>(await get('alpha:1'))).toMatchObject({ status: 'active' });
  });

  it('a body that is not declared JSON → 415', async () => {
    const res = await t.request('POST', '/v1/listings/alpha:1/retract', { key: write, body: '{"reason":"other"}', headers: { 'content-type': 'text/plain' } });
    await expectError(res, 415, 'unsupported_media_type');
  });
});

describe('GET /v1/listings/:id', () => {
  it('shows an active listing, then the same listing retracted', async () => {
    await create(listingBody());
    expect(await json<{ status: string }>(await get('alpha:1'))).toMatchObject({ status: 'active', retractionReason: null });
    await retract('alpha:1', { reason: 'duplicate' });
    expect(await json<{ status: string }>(await get('alpha:1'))).toMatchObject({ status: 'retracted', retractionReason: 'duplicate' });
  });

  it('shows a listing as expired once the clock passes its expiresAt', async () => {
    let clock = new Date('2025-06-15T12:00:00.000Z');
    const timed = await createTestNode({ now: () => clock });
    try {
      const key = await timed.key('write');
      const expiresAt = new Date(clock.getTime() + 3_600_000).toISOString();
      const res = await timed.request('POST', '/v1/listings', { key, body: listingBody({ expiresAt }, clock) });
      expect(res.status).toBe(201);
      const status = async () => (await json<{ status: string }>(await timed.request('GET', '/v1/listings/alpha:1', { key }))).status;
      expect(await status()).toBe('active');
      clock = new Date(Date.parse(expiresAt));
      expect(await status()).toBe('expired');
    } finally {
      await timed.stop();
    }
  });

  it.each(['alpha:1', 'alpha:2', 'nonsense', 'x', `alpha:${'1'.repeat(80)}`])('%s that does not exist → 404', async (id) => {
    await expectError(await get(encodeURIComponent(id)), 404, 'not_found');
  });
});
