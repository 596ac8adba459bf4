/**
 * Durability across a restart: what the API acknowledged is there when a new node opens the same
 * data directory. (A SIGKILL harness for crash-safety proper comes later; this is the basis.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { createNode, type JointbanNode } from '../../src/node.js';
import { json, listingBody, nationalId, phone, type CheckBody, type CreatedListingBody } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode;
let reopened: JointbanNode | undefined;
afterEach(async () => {
  await reopened?.stop();
  reopened = undefined;
  await t.stop();
});

async function reopen(dataDir: string): Promise<{ node: JointbanNode; url: string }> {
  reopened = await createNode(loadConfig(dataDir, {}), { logger: createLogger('silent') });
  return { node: reopened, url: await reopened.listen() };
}

describe('a listing acknowledged with 201 survives a restart', () => {
  it('is returned, matched and numbered on by a new node on the same data directory', async () => {
    t = await createTestNode();
    const write = await t.key('write');
    const created: CreatedListingBody[] = [];
    for (const id of [phone(), nationalId()]) {
      const res = await t.request('POST', '/v1/listings', { key: write, body: listingBody({ identifiers: [id] }) });
      expect(res.status).toBe(201);
      created.push(await json<CreatedListingBody>(res));
    }
    expect((await t.request('POST', '/v1/listings/alpha:2/retract', { key: write, body: { reason: 'data_error' } })).status).toBe(200);
    await t.close();

    const { url } = await reopen(t.dataDir);
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${write}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });

    // The API key made before the restart still works.
    const first = await call('GET', '/v1/listings/alpha:1');
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ id: 'alpha:1', status: 'active', tokens: created[0]!.tokens });
    expect(await (await call('GET', '/v1/listings/alpha:2')).json()).toMatchObject({ status: 'retracted', retractionReason: 'data_error' });
    expect((await json<CheckBody>(await call('POST', '/v1/check', { identifiers: [phone()] }))).decision).toBe('deny');
    expect((await json<CheckBody>(await call('POST', '/v1/check', { identifiers: [nationalId()] }))).decision).toBe('allow');
    // The log continues where it stopped: two listings and a retraction before, so seq 4 now.
    expect((await json<CreatedListingBody>(await call('POST', '/v1/listings', listingBody()))).seq).toBe(4);
  });
});
