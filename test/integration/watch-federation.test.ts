/**
 * Watch events from peer listings in a real 2-node federation (real nodes, loopback HTTP, signed
 * sync): a listing made on alpha and ingested by beta records a match event on beta for the
 * account beta watches; alpha's retraction, once ingested, records a lift event. Both are
 * recorded by beta's projection writer in the ingest transaction.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EventView } from '../../src/service/watch.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { email, json, nationalId, phone } from '../helpers/fixtures.js';

let fed: TestFederation | undefined;
afterEach(async () => {
  await fed?.stop();
  fed = undefined;
});

async function eventsOf(node: FedNode): Promise<EventView[]> {
  const res = await fetch(`${node.url}/v1/events?limit=100`, { headers: { authorization: `Bearer ${node.writeKey}` } });
  expect(res.status).toBe(200);
  return (await json<{ events: EventView[] }>(res)).events;
}

describe('a peer listing of a watched account', () => {
  it('records a match on the watching node, and its retraction a lift', async () => {
    fed = await createFederation(2);
    const f = fed;
    const [alpha, beta] = f.nodes as [FedNode, FedNode];
    const put = await fetch(`${beta.url}/v1/watch`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${beta.writeKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        watch: [
          { reference: 'beta-user-9', identifiers: [email(), nationalId()] },
          { reference: 'beta-user-10', identifiers: [phone()] },
        ],
      }),
    });
    expect(put.status).toBe(200);

    const listed = await f.list(alpha, [nationalId()]);
    const match = await waitFor(async () => (await eventsOf(beta)).find((e) => e.kind === 'match'), { message: 'a match event on beta' });
    expect(match).toMatchObject({ kind: 'match', reference: 'beta-user-9', listingId: listed.id, origin: 'alpha', category: 'fraud', identifierTypes: ['national_id'] });
    expect(match.registration).toMatchObject({ decision: 'deny', penalties: [{ action: 'deny_registration' }] });
    expect(match.monetization.decision).toBe('deny');
    // The listing's origin does not learn who beta watches: alpha records nothing.
    expect(await eventsOf(alpha)).toEqual([]);

    await f.retract(alpha, listed.id);
    const lift = await waitFor(async () => (await eventsOf(beta)).find((e) => e.kind === 'lift'), { message: 'a lift event on beta' });
    expect(lift).toMatchObject({ kind: 'lift', reason: 'retracted', reference: 'beta-user-9', listingId: listed.id, origin: 'alpha' });
    expect(lift.registration).toEqual({ decision: 'allow', penalties: [], rules: [] });
    expect(lift.monetization.decision).toBe('allow');
    expect(Number(lift.id)).toBeGreaterThan(Number(match.id));
    // beta-user-10 (a phone) matched nothing.
    expect((await eventsOf(beta)).map((e) => e.reference)).toEqual(['beta-user-9', 'beta-user-9']);
  });
});
