/**
 * The identifier budget of PUT /v1/watch over real HTTP, on a node whose clock the test moves. A
 * watched reference that matches a listing gets an event at once, which GET /v1/events shows, so
 * a write key could test candidates through watch: each identifier enrolled costs one from the
 * key's `limits.watch` bucket, a request over it is 429 and writes nothing, keys and the check
 * budget are kept apart, and an enumeration through watch learns no more than the budget allows.
 * A large enrolment yields between chunks, so /healthz is answered while it runs.
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { email, json, listingBody, phone, type ErrorBody, type Identifier } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

const START = Date.parse('2025-06-15T12:00:00.000Z');
let ms = START;
const now = () => new Date(ms);

let t: TestNode | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** A node whose write keys may enrol 10 identifiers at once and 1 more per second. */
async function tinyWatchBudget(): Promise<TestNode> {
  ms = START;
  t = await createTestNode({ now, extra: { limits: { watch: { ratePerSecond: 1, burst: 10 }, check: { ratePerSecond: 1, burst: 3 } } } });
  return t;
}

const candidate = (n: number): Identifier => phone(`139 0013 ${String(9000 + n)}`);
const watchOf = (node: TestNode, key: string, items: { reference: string; identifiers: Identifier[] }[]) => node.request('PUT', '/v1/watch', { key, body: { watch: items } });

async function counts(node: TestNode): Promise<{ refs: number; tokens: number; events: number }> {
  const { rows } = await sql<{ refs: number; tokens: number; events: number }>`select
    (select count(*) from watch_references) as refs,
    (select count(*) from watch_tokens) as tokens,
    (select count(*) from watch_events) as events`.execute(node.node.database.db);
  const row = rows[0]!;
  return { refs: Number(row.refs), tokens: Number(row.tokens), events: Number(row.events) };
}

describe('PUT /v1/watch draws on a per-key identifier budget', () => {
  it('charges one per identifier: 10 pass, the 11th is 429 with the JSON error and Retry-After, and writes nothing', async () => {
    const node = await tinyWatchBudget();
    const key = await node.key('write');
    const ten = Array.from({ length: 5 }, (_, i) => ({ reference: `acct-${i}`, identifiers: [candidate(2 * i), candidate(2 * i + 1)] }));
    expect(await json(await watchOf(node, key, ten))).toEqual({ watched: 5, events: 0 });
    const before = await counts(node);

    const refused = await watchOf(node, key, [{ reference: 'acct-x', identifiers: [candidate(99)] }]);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    const body = await json<ErrorBody>(refused);
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toMatch(/watch allowance \(1 identifiers per second, bursts of 10\)/);
    expect(await counts(node)).toEqual(before);

    ms += 1_000;
    expect((await watchOf(node, key, [{ reference: 'acct-x', identifiers: [candidate(99)] }])).status).toBe(200);
  });

  it('refuses a request all or nothing: one over the bucket writes none of its references', async () => {
    const node = await tinyWatchBudget();
    const key = await node.key('write');
    expect((await watchOf(node, key, [{ reference: 'a', identifiers: [candidate(1), candidate(2), candidate(3), candidate(4), candidate(5), candidate(6)] }])).status).toBe(200);
    const before = await counts(node);
    // 4 left; this one asks 5.
    const items = [
      { reference: 'b', identifiers: [candidate(7), candidate(8)] },
      { reference: 'c', identifiers: [candidate(9), candidate(10), candidate(11)] },
    ];
    expect((await watchOf(node, key, items)).status).toBe(429);
    expect(await counts(node)).toEqual(before);
  });

  it('serves a request larger than the burst on a full bucket, then refuses until the debt is paid', async () => {
    const node = await tinyWatchBudget();
    const key = await node.key('write');
    const big = Array.from({ length: 8 }, (_, i) => ({ reference: `acct-${i}`, identifiers: [candidate(2 * i), candidate(2 * i + 1)] }));
    expect((await watchOf(node, key, big)).status).toBe(200);
    // 10 − 16 = −6: one identifier needs 7 seconds.
    const refused = await watchOf(node, key, [{ reference: 'x', identifiers: [candidate(50)] }]);
    expect(refused.headers.get('retry-after')).toBe('7');
    ms += 6_999;
    expect((await watchOf(node, key, [{ reference: 'x', identifiers: [candidate(50)] }])).status).toBe(429);
    ms += 1;
    expect((await watchOf(node, key, [{ reference: 'x', identifiers: [candidate(50)] }])).status).toBe(200);
  });

  it('keeps keys apart, and keeps the watch budget apart from the check budget of the same key', async () => {
    const node = await tinyWatchBudget();
    const [first, second] = [await node.key('write'), await node.key('write')];
    const ten = [{ reference: 'a', identifiers: Array.from({ length: 10 }, (_, i) => candidate(i)) }];
    expect((await watchOf(node, first, ten)).status).toBe(200);
    expect((await watchOf(node, first, [{ reference: 'b', identifiers: [candidate(20)] }])).status).toBe(429);
    // Another key has its own bucket.
    expect((await watchOf(node, second, ten)).status).toBe(200);
    // The same key's checks draw on limits.check (burst 3), untouched by its watches…
    for (let i = 0; i < 3; i++) expect((await node.request('POST', '/v1/check', { key: first, body: { identifiers: [candidate(i)] } })).status).toBe(200);
    expect((await node.request('POST', '/v1/check', { key: first, body: { identifiers: [candidate(9)] } })).status).toBe(429);
    // … and checks do not spend the watch budget: one second later, one identifier may be watched.
    ms += 1_000;
    expect((await watchOf(node, first, [{ reference: 'b', identifiers: [candidate(20)] }])).status).toBe(200);
  });

  it('bounds enumeration through watch: over 20 s, a key learns of at most burst + 20 candidates', async () => {
    const node = await tinyWatchBudget();
    // The listed person: candidate 37 of 0…199.
    await node.node.listings.create(listingBody({ identifiers: [candidate(37)] }, now()) as never);
    const key = await node.key('write');
    let enrolled = 0;
    let next = 0;
    for (let second = 0; second <= 20; second++) {
      // As fast as the node lets it: 5 candidates per request until refused, then wait a second.
      for (;;) {
        const batch = Array.from({ length: 5 }, (_, i) => candidate(next + i));
        const res = await watchOf(
          node,
          key,
          batch.map((id, i) => ({ reference: `probe-${next + i}`, identifiers: [id] })),
        );
        if (res.status !== 200) {
          expect(res.status).toBe(429);
          break;
        }
        enrolled += 5;
        next += 5;
      }
      ms += 1_000;
    }
    // 10 at once, 20 more over 20 s, and one request may overdraw by up to its own size.
    expect(enrolled).toBeGreaterThanOrEqual(30);
    expect(enrolled).toBeLessThanOrEqual(30 + 5);
    expect(next).toBeLessThan(37);
    const events = await json<{ events: unknown[] }>(await node.request('GET', '/v1/events', { key }));
    expect(events.events).toEqual([]);
  });

  it('has a larger default than the check budget, fitting one full request', async () => {
    ms = START;
    t = await createTestNode({ now });
    expect(t.node.config.limits.watch).toEqual({ ratePerSecond: 500, burst: 20_000, exemptScopes: [] });
    expect(t.node.config.limits.watch.burst).toBeGreaterThanOrEqual(1000 * t.node.config.http.maxIdentifiersPerRequest);
  });

  it('counts each enrolment and its identifiers for the audit, refused ones not', async () => {
    const node = await tinyWatchBudget();
    const key = await node.key('write');
    const keyId = /^jb_([A-Za-z0-9_-]{12})_/.exec(key)![1]!;
    await node.node.listings.create(listingBody({ identifiers: [email()] }, now()) as never);
    expect(await json(await watchOf(node, key, [{ reference: 'a', identifiers: [email(), candidate(1), candidate(2)] }]))).toEqual({ watched: 1, events: 1 });
    expect((await watchOf(node, key, [{ reference: 'b', identifiers: Array.from({ length: 8 }, (_, i) => candidate(10 + i)) }])).status).toBe(429);
    await node.node.checkCounter.flush();
    const rows = await node.node.database.db.selectFrom('check_counts').selectAll().where('key_id', '=', keyId).execute();
    expect(rows.map((r) => ({ purpose: r.purpose, served: Number(r.served), identifiers: Number(r.identifiers), hits: Number(r.hits) }))).toEqual([
      { purpose: 'watch', served: 1, identifiers: 3, hits: 1 },
    ]);
  });
});

describe('a large enrolment does not hold up the node', () => {
  it('answers /healthz while a PUT of 1,000 references is processed', async () => {
    ms = START;
    t = await createTestNode({ now, extra: { http: { maxBodyBytes: 1024 * 1024 } } });
    const node = t;
    const key = await node.key('write');
    const items = Array.from({ length: 1000 }, (_, i) => ({ reference: `acct-${i}`, identifiers: [phone(`137${String(i).padStart(8, '0')}`), phone(`136${String(i).padStart(8, '0')}`)] }));
    let done = false;
    const put = watchOf(node, key, items).then(async (res) => {
      done = true;
      return res;
    });
    let answeredDuring = 0;
    while (!done) {
      const res = await fetch(`${node.url}/healthz`);
      expect(res.status).toBe(200);
      await res.text();
      if (!done) answeredDuring++;
    }
    expect(await json(await put)).toEqual({ watched: 1000, events: 0 });
    expect(answeredDuring).toBeGreaterThanOrEqual(5);
  });
});
