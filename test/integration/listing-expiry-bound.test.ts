/**
 * The upper bound of a listing's `expiresAt` (`listings.maxListingDays`, 100 years by default):
 * a listing that never lapses outlives every penalty, so a later expiry, given or defaulted from
 * `banUntil`, is refused with 400 and writes nothing, through the API and the import's
 * preparation alike. Dates past year 9999 are compared as dates, not as ISO strings.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { DAY_MS, json, listingBody, type ErrorBody } from '../helpers/fixtures.js';
import { queryNumber } from '../helpers/db-query.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

const NOW = new Date('2025-06-15T12:00:00.000Z');
const inDays = (days: number) => new Date(NOW.getTime() + days * DAY_MS).toISOString();

let t: TestNode | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

async function node(listings: Record<string, number> = {}): Promise<{ t: TestNode; key: string }> {
  t = await createTestNode({ now: () => NOW, extra: { listings } });
  return { t, key: await t.key('write') };
}

async function list(n: TestNode, key: string, overrides: Record<string, unknown>): Promise<Response> {
  return n.request('POST', '/v1/listings', { key, body: listingBody(overrides, NOW) });
}

const ownLogSize = async (n: TestNode) => Number(await queryNumber(n.node.database, 'SELECT count(*) AS c FROM log_entries'));

describe('expiresAt has an upper bound', () => {
  it('accepts 100 years from now and refuses a day more, writing nothing', async () => {
    const { t: n, key } = await node();
    expect((await list(n, key, { expiresAt: inDays(36_500) })).status).toBe(201);
    const before = await ownLogSize(n);
    const res = await list(n, key, { expiresAt: inDays(36_501) });
    expect(res.status).toBe(400);
    expect((await json<ErrorBody>(res)).error).toEqual({ code: 'invalid_input', message: 'expiresAt: must be at most 36500 days from now (listings.maxListingDays)' });
    expect(await ownLogSize(n)).toBe(before);
  });

  it('bounds the default expiry too: a ban until 9999 would never lapse', async () => {
    const { t: n, key } = await node();
    const res = await list(n, key, { banUntil: '9999-12-31T00:00:00.000Z' });
    expect(res.status).toBe(400);
    expect((await json<ErrorBody>(res)).error.message).toBe(
      'expiresAt: must be at most 36500 days from now (listings.maxListingDays) (the default, from banUntil and the policy; give an earlier banUntil or an expiresAt)',
    );
    // With an expiry inside the bound the same ban is listed.
    expect((await list(n, key, { banUntil: '9999-12-31T00:00:00.000Z', expiresAt: inDays(3650) })).status).toBe(201);
  });

  it('follows listings.maxListingDays', async () => {
    const { t: n, key } = await node({ permanentRetentionDays: 30, maxListingDays: 60 });
    expect((await list(n, key, { expiresAt: inDays(60) })).status).toBe(201);
    expect((await list(n, key, { expiresAt: inDays(61) })).status).toBe(400);
    // A permanent ban's default (30 days) is inside the bound.
    expect((await list(n, key, {})).status).toBe(201);
  });

  it('applies to the import, which prepares listings the same way', async () => {
    const { t: n } = await node({ maxListingDays: 36_500 });
    const prepare = () => n.node.listings.prepareListing(listingBody({ expiresAt: inDays(40_000) }, NOW) as never);
    expect(prepare).toThrow(AppError);
    expect(prepare).toThrow(/expiresAt: must be at most 36500 days from now/);
  });
});
