/**
 * API keys and scopes on every platform endpoint, the error body every failure shares, and the
 * unauthenticated operational endpoints (/healthz, /openapi.json, unknown routes), over real HTTP.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json, listingBody, phone, type ErrorBody } from '../helpers/fixtures.js';
import { queryNumber } from '../helpers/db-query.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode;

beforeEach(async () => {
  t = await createTestNode();
});
afterEach(() => t.stop());

interface Call {
  name: string;
  method: string;
  path: string;
  body?: unknown;
}

/** One call per platform endpoint, each valid apart from its key (alpha:1 exists when they run). */
const CALLS: Call[] = [
  { name: 'POST /v1/listings', method: 'POST', path: '/v1/listings', body: listingBody() },
  { name: 'GET /v1/listings/:id', method: 'GET', path: '/v1/listings/alpha:1' },
  { name: 'POST /v1/listings/:id/retract', method: 'POST', path: '/v1/listings/alpha:1/retract', body: { reason: 'other' } },
  { name: 'POST /v1/check', method: 'POST', path: '/v1/check', body: { identifiers: [phone()] } },
];
const WRITE_CALLS = CALLS.filter((c) => c.name !== 'POST /v1/check');

async function seed(): Promise<void> {
  const res = await t.request('POST', '/v1/listings', { key: t.adminKey, body: listingBody() });
  expect(res.status).toBe(201);
}

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = await json<ErrorBody>(res);
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toEqual({ code, message: expect.any(String) as string });
  expect(body.error.message.length).toBeGreaterThan(0);
}

describe('401: no key, a malformed header, an unknown or a revoked key', () => {
  it.each(CALLS)('$name without a key → 401', async (call) => {
    await seed();
    await expectError(await t.request(call.method, call.path, { body: call.body }), 401, 'unauthorized');
  });

  it.each(CALLS)('$name with a bad body and no key → 401 before the body is looked at', async (call) => {
    const res = await t.request(call.method, call.path, call.method === 'POST' ? { body: '{not json' } : {});
    await expectError(res, 401, 'unauthorized');
  });

  it.each([
    ['a Basic header', (key: string) => `Basic ${key}`],
    ['a lower-case scheme with no key', () => 'bearer'],
    ['a key of the wrong form', () => 'Bearer not-a-key'],
    ['an unknown key of the right form', () => `Bearer jb_AAAAAAAAAAAA_${'A'.repeat(43)}`],
    ['a known id with the wrong secret', (key: string) => `Bearer ${key.slice(0, 16)}${'B'.repeat(43)}`],
  ])('%s → 401', async (_name, header) => {
    const check = await t.key('check');
    const res = await t.request('POST', '/v1/check', { body: { identifiers: [phone()] }, headers: { authorization: header(check) } });
    await expectError(res, 401, 'unauthorized');
  });

  it('a revoked key → 401 on every endpoint, while it worked before', async () => {
    await seed();
    const created = await t.node.keys.create('admin', 'to revoke');
    expect((await t.request('GET', '/v1/listings/alpha:1', { key: created.key })).status).toBe(200);
    await t.node.keys.revoke(created.id);
    for (const call of CALLS) {
      await expectError(await t.request(call.method, call.path, { key: created.key, body: call.body }), 401, 'unauthorized');
    }
  });
});

describe('403: a key whose scope is too weak', () => {
  it.each(WRITE_CALLS)('a check key on $name → 403 and nothing written', async (call) => {
    await seed();
    const check = await t.key('check');
    await expectError(await t.request(call.method, call.path, { key: check, body: call.body }), 403, 'forbidden');
    const entries = await queryNumber(t.node.database, 'SELECT count(*) FROM log_entries');
    expect(entries).toBe(1);
  });
});

describe('scopes nest: admin ⊃ write ⊃ check', () => {
  it.each(['check', 'write', 'admin'] as const)('a %s key can check', async (scope) => {
    const key = await t.key(scope);
    expect((await t.request('POST', '/v1/check', { key, body: { identifiers: [phone()] } })).status).toBe(200);
  });

  it.each(['write', 'admin'] as const)('a %s key can list, read and retract', async (scope) => {
    const key = await t.key(scope);
    expect((await t.request('POST', '/v1/listings', { key, body: listingBody() })).status).toBe(201);
    expect((await t.request('GET', '/v1/listings/alpha:1', { key })).status).toBe(200);
    expect((await t.request('POST', '/v1/listings/alpha:1/retract', { key, body: { reason: 'other' } })).status).toBe(200);
  });

  it('the admin key printed at init works', async () => {
    expect((await t.request('POST', '/v1/check', { key: t.adminKey, body: { identifiers: [phone()] } })).status).toBe(200);
  });
});

describe('operational endpoints', () => {
  it('GET /healthz → 200 without a key', async () => {
    const res = await t.request('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', member: 'alpha', version: expect.any(String) as string });
  });

  it('GET /readyz → 200 once listening', async () => {
    expect(await (await t.request('GET', '/readyz')).json()).toEqual({ status: 'ready' });
  });

  it('GET /openapi.json lists the four platform paths with their schemas', async () => {
    const res = await t.request('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths).toMatchObject({
      '/v1/listings': { post: expect.anything() as unknown },
      '/v1/listings/{id}': { get: expect.anything() as unknown },
      '/v1/listings/{id}/retract': { post: expect.anything() as unknown },
      '/v1/check': { post: expect.anything() as unknown },
    });
    for (const name of ['Identifier', 'CreateListing', 'CreatedListing', 'Listing', 'Retract', 'Check', 'CheckResult', 'Error']) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
    const refOf = (path: string, method: string) => JSON.stringify(doc.paths[path]?.[method]);
    expect(refOf('/v1/listings', 'post')).toContain('#/components/schemas/CreateListing');
    expect(refOf('/v1/listings', 'post')).toContain('#/components/schemas/CreatedListing');
    expect(refOf('/v1/listings/{id}/retract', 'post')).toContain('#/components/schemas/Retract');
    expect(refOf('/v1/listings/{id}', 'get')).toContain('#/components/schemas/Listing');
    expect(refOf('/v1/check', 'post')).toContain('#/components/schemas/Check');
    expect(refOf('/v1/check', 'post')).toContain('#/components/schemas/CheckResult');
  });

  it.each([
    ['GET', '/nope'],
    ['GET', '/v1/nope'],
    ['POST', '/v2/check'],
    ['DELETE', '/v1/listings/alpha:1'],
    ['GET', '/v1/listings'],
    ['GET', '/v1/check'],
    ['PUT', '/v1/check'],
    ['GET', '/v1/listings/alpha:1/retract'],
  ])('%s %s → 404 JSON', async (method, path) => {
    const key = await t.key('admin');
    await expectError(await t.request(method, path, { key }), 404, 'not_found');
  });
});
