/**
 * Watched accounts across a token epoch rotation (docs/OPERATIONS.md, "Epoch secrets"). A watched
 * reference keeps only the tokens of the epochs held when it was sent, so after the node adds
 * epoch 2 it reports the reference as lacking it (status and /metrics); sending it again with
 * PUT /v1/watch clears that, and a listing made under epoch 2 alone (by a node that no longer
 * holds epoch 1) then records a match event for it.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventsStatus, EventView } from '../../src/service/watch.js';
import { editEpochs } from '../helpers/epochs.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { json } from '../helpers/fixtures.js';

let fed: TestFederation | undefined;
afterEach(async () => {
  await fed?.stop();
  fed = undefined;
});

const account = [{ type: 'phone' as const, value: '+86 137 3333 0001' }];

async function watch(node: FedNode): Promise<void> {
  const res = await fetch(`${node.url}/v1/watch`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${node.writeKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ watch: [{ reference: 'acct-1', identifiers: account }] }),
  });
  expect(res.status).toBe(200);
}

async function eventsStatus(f: TestFederation, node: FedNode): Promise<EventsStatus> {
  return ((await f.status(node)) as unknown as { events: EventsStatus }).events;
}

async function lackingGauge(node: FedNode): Promise<string | undefined> {
  const text = await (await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${node.adminKey}` } })).text();
  return /^jointban_watch_references_lacking_newest_epoch (\S+)$/m.exec(text)?.[1];
}

async function eventsOf(node: FedNode): Promise<EventView[]> {
  const res = await fetch(`${node.url}/v1/events?limit=100`, { headers: { authorization: `Bearer ${node.writeKey}` } });
  expect(res.status).toBe(200);
  return (await json<{ events: EventView[] }>(res)).events;
}

describe('a watched account across an epoch rotation', () => {
  it('is reported as lacking the new epoch until it is sent again, and then matches listings made under it alone', { timeout: 90_000 }, async () => {
    fed = await createFederation(2);
    const f = fed;
    await watch(f.get('alpha'));
    expect(await eventsStatus(f, f.get('alpha'))).toMatchObject({ watchedReferences: 1, newestEpoch: 1, watchedLackingNewestEpoch: 0 });

    // Every node adds epoch 2.
    const secret2 = randomBytes(32).toString('hex');
    for (const node of f.all) {
      await f.stopNode(node);
      editEpochs(node.dataDir, (epochs) => [...epochs, { epoch: 2, secret: secret2 }]);
      await f.startNode(node);
    }
    const alpha = f.get('alpha');
    expect(await eventsStatus(f, alpha)).toMatchObject({ watchedReferences: 1, newestEpoch: 2, watchedLackingNewestEpoch: 1 });
    expect(await lackingGauge(alpha)).toBe('1');

    // The re-enrolment: PUT replaces, so the same request again is safe.
    await watch(alpha);
    expect(await eventsStatus(f, alpha)).toMatchObject({ watchedReferences: 1, watchedLackingNewestEpoch: 0 });
    expect(await lackingGauge(alpha)).toBe('0');

    // beta retires epoch 1 and lists the account: its listing carries epoch 2 tokens only.
    await f.stopNode('beta');
    editEpochs(f.get('beta').dataDir, (epochs) => epochs.filter((e) => e.epoch === 2));
    await f.startNode('beta');
    const listed = await f.list('beta', account);
    expect(listed.tokens.map((t) => t.epoch)).toEqual([2]);
    const match = await waitFor(async () => (await eventsOf(alpha)).find((e) => e.kind === 'match'), { message: 'a match event on alpha' });
    expect(match).toMatchObject({ kind: 'match', reference: 'acct-1', listingId: listed.id, origin: 'beta' });
  });
});
