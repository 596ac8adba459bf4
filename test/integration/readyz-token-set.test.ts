/**
 * /readyz and the check hot path's token index (store/token-index.ts, on the run's engine): ready
 * only once the filter is warm, and checks give the same answers while it is not (they read the
 * database through Kysely).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json, listingBody, phone, type CheckBody } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode;
let checker: string;
beforeEach(async () => {
  t = await createTestNode();
  checker = await t.key('check');
  const res = await t.request('POST', '/v1/listings', { key: await t.key('write'), body: listingBody({ identifiers: [phone()] }) });
  expect(res.status).toBe(201);
});
afterEach(() => t.stop());

const decision = async () => {
  const res = await t.request('POST', '/v1/check', { key: checker, body: { identifiers: [phone()] } });
  expect(res.status).toBe(200);
  return (await json<CheckBody>(res)).decision;
};

describe('/readyz and the token filter', () => {
  it('is ready once listening with the token filter warm, and a listed phone is denied through the filter', async () => {
    expect(t.node.checkStore.tokens.warm).toBe(true);
    expect((await t.request('GET', '/readyz')).status).toBe(200);
    expect(await decision()).toBe('deny');
  });

  it('reports 503 while the token filter is not warm, and checks still answer from the database', async () => {
    t.node.checkStore.tokens.close();
    const res = await t.request('GET', '/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'starting' });
    expect(await t.node.checkStore.tokens.match([], new Date().toISOString())).toBeUndefined();
    expect(await decision()).toBe('deny');
  });
});
