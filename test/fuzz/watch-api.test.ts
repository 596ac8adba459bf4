/**
 * Fuzzing the watchlist and events API (docs/EVENTS.md) over hono's in-process `app.request()`
 * against a real node on a real SQLite file: PUT /v1/watch, DELETE /v1/watch/{reference},
 * GET /v1/events and POST /v1/events/dead-letters/redrive with mutated and garbage bodies, random
 * references, cursors, limits, keys and content types.
 *
 * Every response: never a 5xx; an error is the API's JSON error body; a rejected request writes
 * nothing (the watchlist, its tokens and the events keep their row counts).
 */
import fc from 'fast-check';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/tables.js';
import { fuzzAsync } from './fuzz-config.js';
import { applyJsonMutation, contentType, garbageBody, jsonMutation } from './http-arbitraries.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';
import { email, listingBody, nationalId, phone } from '../helpers/fixtures.js';

let t: TestNode;
let keys: Record<'write' | 'check' | 'admin', string>;

beforeAll(async () => {
  t = await createTestNode({ listen: false, extra: { checkpoints: { intervalMs: 60_000, maxEntries: 1_000_000 }, logging: { level: 'silent' } } });
  keys = { write: await t.key('write'), check: await t.key('check'), admin: t.adminKey };
  // Listings for new watches to match, so accepted PUTs also record events.
  await t.node.listings.create(listingBody({ identifiers: [phone()] }) as never);
  await t.node.listings.create(listingBody({ identifiers: [email()] }) as never);
});

afterAll(async () => {
  await t?.stop();
});

async function counts(db: Kysely<Database>): Promise<Record<string, number>> {
  const { rows } = await sql<Record<string, number>>`select
    (select count(*) from watch_references) as refs,
    (select count(*) from watch_tokens) as tokens,
    (select count(*) from watch_events) as events`.execute(db);
  const row = rows[0]!;
  return { refs: Number(row.refs), tokens: Number(row.tokens), events: Number(row.events) };
}

type Route = 'put' | 'delete' | 'events' | 'redrive';

const validPut = () => ({
  watch: [
    { reference: 'acct-1', identifiers: [phone(), nationalId()] },
    { reference: 'acct-2', identifiers: [email()] },
  ],
});

const segment = fc.oneof(fc.constantFrom('acct-1', 'acct-2', 'unknown', '%2F', '%', '%E0%A4%A', '..', 'a'.repeat(129), 'a%00b', ''), fc.string({ maxLength: 40 }).map(encodeURIComponent));
const queryValue = fc.oneof(fc.constantFrom('0', '1', '-1', '1.5', 'abc', '9'.repeat(20), '', '%', '1000', '1001', '00'), fc.string({ maxLength: 12 }).map(encodeURIComponent));

const request = fc.record({
  route: fc.constantFrom<Route>('put', 'put', 'put', 'delete', 'events', 'events', 'redrive'),
  method: fc.oneof({ weight: 6, arbitrary: fc.constant<string | undefined>(undefined) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH') }),
  reference: segment,
  after: fc.option(queryValue, { nil: undefined }),
  limit: fc.option(queryValue, { nil: undefined }),
  auth: fc.oneof({ weight: 8, arbitrary: fc.constant<'right' | 'check' | 'none'>('right') }, { weight: 1, arbitrary: fc.constantFrom<'right' | 'check' | 'none'>('check', 'none') }),
  type: fc.oneof({ weight: 4, arbitrary: fc.constant<string | undefined>('application/json') }, { weight: 1, arbitrary: contentType }),
  body: fc.oneof(
    { weight: 5, arbitrary: jsonMutation.map((m) => ({ kind: 'mutated' as const, m })) },
    { weight: 2, arbitrary: garbageBody.map((text) => ({ kind: 'raw' as const, text })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'valid' as const }) },
  ),
});

describe('watch API fuzzing', () => {
  it('http.watch: never a 5xx; a rejected request writes nothing', async () => {
    const statuses = new Map<number, number>();
    await fuzzAsync(
      'http.watch',
      fc.asyncProperty(request, async (r) => {
        const query = [r.after !== undefined ? `after=${r.after}` : '', r.limit !== undefined ? `limit=${r.limit}` : ''].filter(Boolean).join('&');
        const target: Record<Route, [string, string]> = {
          put: ['PUT', '/v1/watch'],
          delete: ['DELETE', `/v1/watch/${r.reference}`],
          events: ['GET', `/v1/events${query ? `?${query}` : ''}`],
          redrive: ['POST', '/v1/events/dead-letters/redrive'],
        };
        const [defaultMethod, path] = target[r.route];
        const method = r.method ?? defaultMethod;
        const body = r.body.kind === 'valid' ? JSON.stringify(validPut()) : r.body.kind === 'raw' ? r.body.text : applyJsonMutation(validPut(), r.body.m);
        const headers: Record<string, string> = {};
        const key = r.auth === 'right' ? (r.route === 'redrive' ? keys.admin : keys.write) : r.auth === 'check' ? keys.check : undefined;
        if (key) headers['authorization'] = `Bearer ${key}`;
        if (r.type !== undefined) headers['content-type'] = r.type;
        const before = await counts(t.node.database.db);
        const res = await t.node.app.request(path, { method, headers, ...(method !== 'GET' && method !== 'HEAD' ? { body } : {}) });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, `${method} ${path} → ${res.status} ${text.slice(0, 200)}`).toBeLessThan(500);
        if (res.status >= 400) {
          expect(await counts(t.node.database.db), `${method} ${path} → ${res.status} wrote rows`).toEqual(before);
          expect(JSON.parse(text)).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
        }
      }),
    );
    console.log(`http.watch statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
  });
});

/**
 * The identifier budget of PUT /v1/watch against a model: a node whose clock stands still, so a
 * key's bucket never refills and the model is exact. Each case uses two fresh keys and sends a
 * sequence of requests of random sizes, some with identifiers that fail normalisation (they cost
 * what they carry all the same). The node must answer 429 exactly when the model's bucket is
 * short, a 429 writes nothing, and no key enrols more than its burst plus one request's overdraft.
 */
describe('watch budget fuzzing', () => {
  const BURST = 12;
  let b: TestNode;
  beforeAll(async () => {
    b = await createTestNode({
      listen: false,
      now: () => new Date('2025-06-15T12:00:00.000Z'),
      extra: { limits: { watch: { ratePerSecond: 0.001, burst: BURST } }, logging: { level: 'silent' } },
    });
  });
  afterAll(async () => {
    await b?.stop();
  });

  const item = fc.record({ identifiers: fc.integer({ min: 1, max: 4 }), valid: fc.boolean() });
  const putRequest = fc.record({ key: fc.constantFrom(0, 1), items: fc.array(item, { minLength: 1, maxLength: 4 }) });

  it('http.watch-budget: 429 exactly when the key’s bucket is short; a refused request writes nothing', async () => {
    let refusals = 0;
    let served = 0;
    let next = 0;
    await fuzzAsync(
      'http.watch-budget',
      fc.asyncProperty(fc.array(putRequest, { minLength: 1, maxLength: 8 }), async (requests) => {
        const keys = [await b.key('write'), await b.key('write')];
        const tokens = [BURST, BURST];
        const enrolled = [0, 0];
        for (const r of requests) {
          const watch = r.items.map((it) => ({
            reference: `ref-${next++}`,
            identifiers: Array.from({ length: it.identifiers }, (_, i) => (it.valid ? phone(`137${String(next * 4 + i).padStart(8, '0')}`) : phone('12345'))),
          }));
          const cost = watch.reduce((n, w) => n + w.identifiers.length, 0);
          const before = await counts(b.node.database.db);
          const res = await b.node.app.request('/v1/watch', {
            method: 'PUT',
            headers: { authorization: `Bearer ${keys[r.key]!}`, 'content-type': 'application/json' },
            body: JSON.stringify({ watch }),
          });
          const text = await res.text();
          const short = tokens[r.key]! < Math.min(cost, BURST);
          if (short) {
            expect(res.status, text).toBe(429);
            expect(JSON.parse(text)).toMatchObject({ error: { code: 'rate_limited' } });
            expect(await counts(b.node.database.db)).toEqual(before);
            refusals++;
            continue;
          }
          tokens[r.key]! -= cost;
          expect(res.status, text).toBe(r.items.every((it) => it.valid) ? 200 : 400);
          if (res.status === 200) {
            enrolled[r.key]! += cost;
            served++;
          } else expect(await counts(b.node.database.db)).toEqual(before);
          expect(enrolled[r.key]!).toBeLessThanOrEqual(BURST + 16);
        }
      }),
    );
    console.log(`http.watch-budget: ${served} served, ${refusals} refused`);
    expect(refusals).toBeGreaterThan(0);
    expect(served).toBeGreaterThan(0);
  });
});
