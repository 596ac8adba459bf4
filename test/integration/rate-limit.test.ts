/**
 * The per-key rate limit of POST /v1/check over real HTTP, on a node whose clock the test moves:
 * a key's burst passes, the next check is 429 with Retry-After, another key is unaffected, the
 * allowance returns as the clock advances, each identifier costs one, exempt scopes are not
 * limited, and only the checks served are counted for the audit report.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { email, json, nationalId, phone, type ErrorBody } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

const START = Date.parse('2025-06-15T12:00:00.000Z');
let ms = START;
const now = () => new Date(ms);

let t: TestNode | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** A node whose check keys may test 3 identifiers at once and 1 more per second. */
async function tinyBucket(check: Record<string, unknown> = {}): Promise<TestNode> {
  ms = START;
  t = await createTestNode({ now, extra: { limits: { check: { ratePerSecond: 1, burst: 3, ...check } } } });
  return t;
}

const checkWith = (node: TestNode, key: string, identifiers = [phone()]) => node.request('POST', '/v1/check', { key, body: { identifiers } });

describe('POST /v1/check is limited per API key', () => {
  it('serves the burst, then answers 429 with Retry-After until the clock has refilled the bucket', async () => {
    const node = await tinyBucket();
    const key = await node.key('check');
    for (let i = 0; i < 3; i++) expect((await checkWith(node, key)).status).toBe(200);

    const refused = await checkWith(node, key);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    const body = await json<ErrorBody>(refused);
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toMatch(/1 identifiers per second, bursts of 3/);

    ms += 999;
    expect((await checkWith(node, key)).status).toBe(429);
    ms += 1;
    expect((await checkWith(node, key)).status).toBe(200);
    expect((await checkWith(node, key)).status).toBe(429);
  });

  it('leaves another key unaffected', async () => {
    const node = await tinyBucket();
    const [first, second] = [await node.key('check'), await node.key('check')];
    for (let i = 0; i < 3; i++) expect((await checkWith(node, first)).status).toBe(200);
    expect((await checkWith(node, first)).status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await checkWith(node, second)).status).toBe(200);
  });

  it('charges one per identifier: a check of three empties the bucket; a check of four leaves a debt', async () => {
    const node = await tinyBucket();
    const key = await node.key('check');
    expect((await checkWith(node, key, [phone(), email(), nationalId()])).status).toBe(200);
    expect((await checkWith(node, key)).status).toBe(429);

    ms += 3_000;
    expect((await checkWith(node, key, [phone(), email(), nationalId(), phone('139 0013 9000')])).status).toBe(200);
    // 3 − 4 = −1 left; one identifier needs 1, so 2 seconds.
    const refused = await checkWith(node, key);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('2');
  });

  it('limits admin keys too, unless their scope is exempt', async () => {
    const limited = await tinyBucket();
    for (let i = 0; i < 3; i++) expect((await checkWith(limited, limited.adminKey)).status).toBe(200);
    expect((await checkWith(limited, limited.adminKey)).status).toBe(429);
    await limited.stop();

    const exempt = await tinyBucket({ exemptScopes: ['admin'] });
    for (let i = 0; i < 10; i++) expect((await checkWith(exempt, exempt.adminKey)).status).toBe(200);
    const checkKey = await exempt.key('check');
    for (let i = 0; i < 3; i++) expect((await checkWith(exempt, checkKey)).status).toBe(200);
    expect((await checkWith(exempt, checkKey)).status).toBe(429);
  });

  it('checks authentication first: a missing key is 401, not a charge on anyone', async () => {
    const node = await tinyBucket();
    for (let i = 0; i < 5; i++) expect((await node.request('POST', '/v1/check', { body: { identifiers: [phone()] } })).status).toBe(401);
    const key = await node.key('check');
    for (let i = 0; i < 3; i++) expect((await checkWith(node, key)).status).toBe(200);
  });

  it('still refuses a body that is not a check with 400 (and charges it one)', async () => {
    const node = await tinyBucket();
    const key = await node.key('check');
    expect((await node.request('POST', '/v1/check', { key, body: '{"identifiers": [' })).status).toBe(400);
    expect((await node.request('POST', '/v1/check', { key, body: { identifiers: 'x' } })).status).toBe(400);
    expect((await checkWith(node, key)).status).toBe(200);
    expect((await checkWith(node, key)).status).toBe(429);
  });

  it('counts only the checks served: refused ones do not reach the audit counts', async () => {
    const node = await tinyBucket();
    const key = await node.key('check');
    const keyId = /^jb_([A-Za-z0-9_-]{12})_/.exec(key)![1]!;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await checkWith(node, key)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    await node.node.checkCounter.flush();
    const row = await node.node.database.db
      .selectFrom('check_counts')
      .select((eb) => eb.fn.sum<number>('served').as('served'))
      .where('key_id', '=', keyId)
      .executeTakeFirst();
    expect(Number(row?.served)).toBe(3);
  });
});

describe('the default limit', () => {
  it('is 50 identifiers per second with bursts of 200, so 16-identifier checks pass 12 times in a row', async () => {
    ms = START;
    t = await createTestNode({ now });
    expect(t.node.config.limits.check).toEqual({ ratePerSecond: 50, burst: 200, exemptScopes: [] });
    const key = await t.key('check');
    const sixteen = Array.from({ length: 16 }, (_, i) => phone(`138 0013 ${String(8000 + i)}`));
    for (let i = 0; i < 12; i++) expect((await checkWith(t, key, sixteen)).status).toBe(200);
    // 200 − 192 = 8 left, 16 needed: 8 / 50 per second rounds up to 1 s.
    const refused = await checkWith(t, key, sixteen);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
  });
});
