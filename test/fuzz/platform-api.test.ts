/**
 * Fuzzing the platform API over hono's in-process `app.request()` against a real node on a real
 * SQLite file: POST /v1/listings, POST /v1/listings/:id/retract, GET /v1/listings/:id,
 * POST /v1/check, GET /healthz, /readyz, /openapi.json and GET /v1/federation/status, with random
 * and mutated bodies (wrong types, broken JSON, 100,000 nested arrays, oversized, binary), random
 * headers, keys and content types, other methods and random paths.
 *
 * Every response: never a 5xx; an error is the API's JSON error body. Every rejected request
 * (status ≥ 400) writes nothing: the row counts of the log, the listings, their tokens, the tree,
 * the checkpoints and misbehaviour are the same after it as before. An accepted write adds exactly
 * its own rows.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzAsync } from './fuzz-config.js';
import { applyJsonMutation, contentType, dbCounts, garbageBody, jsonMutation, type DbCounts } from './http-arbitraries.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';
import { listingBody, phone, email, deviceId } from '../helpers/fixtures.js';

let t: TestNode;
let keys: Record<'write' | 'check' | 'admin' | 'auditor', string>;
const listed: string[] = [];

beforeAll(async () => {
  t = await createTestNode({
    listen: false,
    extra: {
      // No checkpoint is signed in the background while the fuzzer compares row counts.
      checkpoints: { intervalMs: 60_000, maxEntries: 1_000_000 },
      // Thousands of requests in seconds: the rate limits are not what is fuzzed here.
      limits: { check: { ratePerSecond: 1_000_000, burst: 1_000_000 } },
      logging: { level: 'silent' },
    },
  });
  keys = { write: await t.key('write'), check: await t.key('check'), admin: t.adminKey, auditor: await t.key('auditor') };
  for (const identifiers of [[phone()], [email()], [deviceId()]]) {
    const res = await t.node.app.request('/v1/listings', {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.write}`, 'content-type': 'application/json' },
      body: JSON.stringify(listingBody({ identifiers })),
    });
    expect(res.status).toBe(201);
    listed.push(((await res.json()) as { id: string }).id);
  }
});

afterAll(async () => {
  await t?.stop();
});

type Route = 'create' | 'retract' | 'get' | 'check' | 'healthz' | 'readyz' | 'openapi' | 'status' | 'random';

const validBodies = {
  create: () => listingBody({ identifiers: [phone('+86 139 0013 9000'), email('fuzz@example.org')], expiresAt: new Date(Date.now() + 86_400_000 * 30).toISOString(), reference: 'acct-1' }),
  retract: () => ({ reason: 'appeal_upheld' }),
  check: () => ({ identifiers: [phone(), email()], purpose: 'registration', receipts: true }),
};

const listingId = fc.oneof(
  fc.constantFrom(
    'alpha:1',
    'alpha:2',
    'alpha:3',
    'alpha:999',
    'beta:1',
    'alpha:0',
    'alpha:01',
    'alpha:-1',
    'alpha:9007199254740993',
    ':',
    'alpha',
    '%',
    '%E0%A4%A',
    '..',
    '%2e%2e',
    'a'.repeat(300),
    'alpha:1%00',
    'ALPHA:1',
  ),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
);

const randomPath = fc.oneof(
  fc.constantFrom(
    '/',
    '/v1',
    '/v1/',
    '/v1/listings/',
    '/v1/check/',
    '/v1/listings//retract',
    '/v1/federation/status/x',
    '/openapi.json/x',
    '//healthz',
    '/healthz?x=1',
    '/v1/check?receipts=true',
    '/%',
    '/v1/%ZZ',
  ),
  fc.webPath(),
  fc.array(fc.string({ maxLength: 10 }).map(encodeURIComponent), { maxLength: 5 }).map((parts) => `/${parts.join('/')}`),
);

// Mostly the key the route needs (so that bodies reach validation), sometimes another scope or
// no key at all.
const authorization = fc.oneof(
  { weight: 10, arbitrary: fc.constant({ right: true }) },
  { weight: 2, arbitrary: fc.constantFrom('write', 'check', 'admin', 'auditor').map((scope) => ({ scope })) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer jb_not_a_key', 'bearer x', 'Bearer  jb_x').map((raw) => ({ raw })) },
  { weight: 1, arbitrary: fc.stringMatching(/^Bearer [!-~]{0,80}$/).map((raw) => ({ raw })) },
);

const RIGHT_SCOPE: Record<Route, keyof typeof keys> = {
  create: 'write',
  retract: 'write',
  get: 'write',
  check: 'check',
  healthz: 'check',
  readyz: 'check',
  openapi: 'check',
  status: 'admin',
  random: 'admin',
};

const request = fc.record({
  route: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom<Route>('create', 'create', 'create', 'retract', 'get', 'check', 'check') },
    { weight: 1, arbitrary: fc.constantFrom<Route>('healthz', 'healthz', 'readyz', 'openapi', 'status', 'status', 'random', 'random') },
  ),
  method: fc.oneof({ weight: 6, arbitrary: fc.constant<string | undefined>(undefined) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') }),
  id: listingId,
  path: randomPath,
  auth: authorization,
  type: contentType,
  body: fc.oneof(
    { weight: 5, arbitrary: jsonMutation.map((m) => ({ kind: 'mutated' as const, m })) },
    { weight: 2, arbitrary: garbageBody.map((text) => ({ kind: 'raw' as const, text })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'valid' as const }) },
  ),
  requestId: fc.option(fc.stringMatching(/^[!-~]{0,80}$/), { nil: undefined }),
});

describe('platform API fuzzing', () => {
  it('http.platform: never a 5xx; a rejected request writes nothing', async () => {
    const statuses = new Map<number, number>();
    await fuzzAsync(
      'http.platform',
      fc.asyncProperty(request, async (r) => {
        const { path, method, body } = build(r);
        const headers: Record<string, string> = {};
        const auth = 'right' in r.auth ? `Bearer ${keys[RIGHT_SCOPE[r.route]]}` : 'scope' in r.auth ? `Bearer ${keys[r.auth.scope as keyof typeof keys]}` : r.auth.raw;
        if (auth !== undefined) headers['authorization'] = auth;
        if (r.type !== undefined) headers['content-type'] = r.type;
        if (r.requestId !== undefined) headers['x-request-id'] = r.requestId;
        const before = await dbCounts(t.node.database.db);
        const res = await t.node.app.request(path, { method, headers, ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}) });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        // The one designed 5xx: /readyz of a node that was never started (listen: false) is 503.
        const starting = path === '/readyz' && res.status === 503 && text === (method === 'HEAD' ? '' : '{"status":"starting"}');
        if (!starting) expect(res.status, `${method} ${path} → ${res.status} ${text.slice(0, 200)}`).toBeLessThan(500);
        const after = await dbCounts(t.node.database.db);
        if (res.status >= 400) {
          expect(after, `${method} ${path} → ${res.status} wrote rows`).toEqual(before);
          if (!starting && method !== 'HEAD' && (res.headers.get('content-type') ?? '').includes('json')) {
            expect(JSON.parse(text)).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
          }
        } else {
          expectWrites(r.route, method, res.status, before, after);
        }
      }),
    );
    console.log(`http.platform statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
    // The fuzzer reached past validation: some writes were accepted, most requests refused.
    expect(statuses.get(201) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
  });
});

describe('dates at the ends of the log’s range (found by http.platform)', () => {
  // A four-digit local year with an offset can name an instant in year -1 or 10000, which the log
  // cannot encode: it used to reach the append and fail there with a 500.
  it.each([
    ['bannedAt', '0000-01-01T00:00:00+01:00'],
    ['bannedAt', '0000-01-01T00:30:00+23:59'],
    ['bannedAt', '9999-12-31T23:59:59-01:00'],
    ['banUntil', '9999-12-31T23:00:00-23:59'],
    ['expiresAt', '9999-12-31T23:59:59.999-00:01'],
  ])('%s %s is refused with 400, and nothing is written', async (field, value) => {
    const before = await dbCounts(t.node.database.db);
    const res = await t.node.app.request('/v1/listings', {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.write}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...validBodies.create(), [field]: value }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_input', message: expect.stringContaining(field) } });
    expect(await dbCounts(t.node.database.db)).toEqual(before);
  });

  const create = (fields: Record<string, unknown>) =>
    t.node.app.request('/v1/listings', {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.write}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...validBodies.create(), ...fields }),
    });

  it('the first end is accepted; the last is refused by listings.maxListingDays (100 years), not by the log', async () => {
    const inAYear = new Date(Date.now() + 365 * 86_400_000).toISOString();
    expect((await create({ bannedAt: '0000-01-01T00:00:00Z', expiresAt: inAYear })).status).toBe(201);
    const before = await dbCounts(t.node.database.db);
    const res = await create({ bannedAt: '0000-01-01T00:00:00Z', expiresAt: '9999-12-31T23:59:59.999Z' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_input', message: expect.stringContaining('listings.maxListingDays') } });
    expect(await dbCounts(t.node.database.db)).toEqual(before);
  });
});

/** The request a case describes. */
type Case = typeof request extends fc.Arbitrary<infer T> ? T : never;

function build(r: Case): { path: string; method: string; body: string | Uint8Array | undefined } {
  const target: Record<Route, [string, string]> = {
    create: ['POST', '/v1/listings'],
    retract: ['POST', `/v1/listings/${r.id}/retract`],
    get: ['GET', `/v1/listings/${r.id}`],
    check: ['POST', '/v1/check'],
    healthz: ['GET', '/healthz'],
    readyz: ['GET', '/readyz'],
    openapi: ['GET', '/openapi.json'],
    status: ['GET', '/v1/federation/status'],
    random: ['POST', r.path],
  };
  const [defaultMethod, path] = target[r.route];
  const method = r.method ?? defaultMethod;
  const valid: unknown = r.route === 'create' ? validBodies.create() : r.route === 'retract' ? validBodies.retract() : validBodies.check();
  let body: string | Uint8Array | undefined;
  if (r.body.kind === 'valid') body = JSON.stringify(valid);
  else if (r.body.kind === 'raw') body = r.body.text;
  else body = applyJsonMutation(valid, r.body.m);
  return { path, method, body };
}

/** An accepted request wrote only what it should. */
function expectWrites(route: Route, method: string, status: number, before: DbCounts, after: DbCounts): void {
  if (route === 'create' && method === 'POST' && status === 201) {
    expect(after.log_entries).toBe(before.log_entries + 1);
    expect(after.listings).toBe(before.listings + 1);
    expect(after.listing_tokens).toBeGreaterThan(before.listing_tokens);
  } else if (route === 'retract' && method === 'POST' && status === 200) {
    expect(after.log_entries).toBe(before.log_entries + 1);
    expect(after.listings).toBe(before.listings);
  } else {
    expect(after).toEqual(before);
  }
}

/**
 * Bodies with random bytes spliced into a string value: a body that is not UTF-8 is refused with
 * 400 `invalid_encoding` and writes nothing; one that is UTF-8 is never refused for its encoding
 * (whatever else is wrong with it). The oracle is a strict decoder run over the whole body.
 */
describe('body encoding fuzzing', () => {
  const strict = new TextDecoder('utf-8', { fatal: true });
  const isUtf8 = (bytes: Uint8Array): boolean => {
    try {
      strict.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };
  const routes: Record<'create' | 'check' | 'retract' | 'watch', { method: string; path: string; body: () => unknown; key: () => string }> = {
    create: { method: 'POST', path: '/v1/listings', body: validBodies.create, key: () => keys.write },
    check: { method: 'POST', path: '/v1/check', body: validBodies.check, key: () => keys.check },
    retract: { method: 'POST', path: '/v1/listings/alpha:999/retract', body: validBodies.retract, key: () => keys.write },
    watch: { method: 'PUT', path: '/v1/watch', body: () => ({ watch: [{ reference: 'acct-utf8', identifiers: [email('fuzz@example.org')] }] }), key: () => keys.write },
  };
  // Bytes around the edges of UTF-8: continuation bytes, lead bytes, overlong and surrogate starts.
  const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff));
  const splice = fc.record({
    route: fc.constantFrom<keyof typeof routes>('create', 'check', 'retract', 'watch'),
    bytes: fc.array(byte, { minLength: 1, maxLength: 6 }),
    // Which string value's end the bytes go before (the n-th closing quote, modulo their count).
    at: fc.nat(),
  });

  it('http.utf8: a body that is not UTF-8 is 400 invalid_encoding and writes nothing; UTF-8 is never refused for it', async () => {
    let refused = 0;
    await fuzzAsync(
      'http.utf8',
      fc.asyncProperty(splice, async ({ route, bytes, at }) => {
        const r = routes[route];
        const text = new TextEncoder().encode(JSON.stringify(r.body()));
        const quotes = [...text.keys()].filter((i) => text[i] === 0x22 && text[i - 1] !== 0x3a && text[i + 1] !== 0x3a);
        const cut = quotes[at % quotes.length]!;
        const body = new Uint8Array([...text.slice(0, cut), ...bytes, ...text.slice(cut)]);
        const before = await dbCounts(t.node.database.db);
        const res = await t.node.app.request(r.path, { method: r.method, headers: { authorization: `Bearer ${r.key()}`, 'content-type': 'application/json' }, body });
        const answer = (await res.json()) as { error?: { code: string } };
        expect(res.status).toBeLessThan(500);
        if (!isUtf8(body)) {
          expect(res.status).toBe(400);
          expect(answer.error?.code).toBe('invalid_encoding');
          expect(await dbCounts(t.node.database.db)).toEqual(before);
          refused++;
        } else expect(answer.error?.code).not.toBe('invalid_encoding');
      }),
    );
    expect(refused).toBeGreaterThan(0);
  });
});
