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

const segment = fc.oneof(
  fc.constantFrom('acct-1', 'acct-2', 'unknown', '%2F', '%', '%E0%A4%A', '..', 'a'.repeat(129), 'a%00b', ''),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
);
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
