/**
 * `durability.mode: "witnessed"` (docs/CONFIGURATION.md, "Durability"): a listing is answered 201
 * only once the association holds it under a checkpoint it cosigned, so a lost disk loses nothing
 * acknowledged; with the association down the answer is 503 `not_witnessed` after the deadline,
 * and the listing is in the local log all the same, cosigned once the association is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCosigned, witnessOf } from '../../src/roster/witness.js';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { json, listingBody, paymentAccount, type ErrorBody, type Identifier } from '../helpers/fixtures.js';

let fed: TestFederation;
const ids = (label: string): Identifier[] => [paymentAccount(`alipay:witnessed-${label}`)];

/** The size of the association's latest checkpoint of alpha, if it carries the witness's cosignature. */
async function cosignedAtAssociation(): Promise<number> {
  const node = fed.association.node;
  const roster = node.federation.roster.current();
  const cp = await new CheckpointRepository(node.database.db).latest('alpha');
  const witness = roster ? witnessOf(roster) : undefined;
  return cp && witness && isCosigned(cp.note, witness) ? cp.size : 0;
}

beforeAll(async () => {
  fed = await createFederation(1, { extra: { durability: { mode: 'witnessed', witnessTimeoutMs: 1500 } } });
}, 60_000);

afterAll(async () => {
  await fed?.stop();
});

describe('witnessed durability', () => {
  it('answers 201 only once the association holds the listing under a cosigned checkpoint', async () => {
    for (const label of ['w1', 'w2', 'w3']) {
      const created = await fed.list('alpha', ids(label));
      // Read at the moment of the answer, with no waiting: the witness already has it.
      expect(await fed.logSize(fed.association, 'alpha')).toBeGreaterThanOrEqual(created.seq);
      expect(await cosignedAtAssociation()).toBeGreaterThanOrEqual(created.seq);
    }
  });

  it('concurrent listings are each answered once covered', async () => {
    const created = await Promise.all(['c1', 'c2', 'c3', 'c4', 'c5'].map((label) => fed.list('alpha', ids(label))));
    const highest = Math.max(...created.map((c) => c.seq));
    expect(await cosignedAtAssociation()).toBeGreaterThanOrEqual(highest);
  });

  it('answers 503 not_witnessed when the witness does not cosign in time; the listing stays in the local log', { timeout: 30_000 }, async () => {
    await fed.stopNode(fed.association);
    const before = await fed.logSize('alpha', 'alpha');
    const alpha = fed.get('alpha');
    const started = Date.now();
    const res = await fetch(`${alpha.url}/v1/listings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alpha.writeKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(listingBody({ identifiers: ids('late') })),
    });
    // It waited for the deadline (1500 ms) rather than failing at once; timers may round a ms early.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(res.status).toBe(503);
    const body = await json<ErrorBody>(res);
    expect(body.error.code).toBe('not_witnessed');
    const id = `alpha:${before + 1}`;
    expect(body.error.message).toContain(`${id}: written to this node's log`);
    expect(body.error.message).toContain('do not write it again');
    // The listing is in the log and matches.
    expect(await fed.logSize('alpha', 'alpha')).toBe(before + 1);
    const got = await fetch(`${alpha.url}/v1/listings/${id}`, { headers: { authorization: `Bearer ${alpha.writeKey}` } });
    expect(got.status).toBe(200);
    expect((await fed.check('alpha', ids('late'))).decision).toBe('deny');

    // Back: the association pulls and cosigns it, and writes are acknowledged again.
    await fed.startNode(fed.association);
    await waitFor(async () => (await cosignedAtAssociation()) >= before + 1, { message: 'the association to cosign the unwitnessed listing' });
    const next = await fed.list('alpha', ids('after'));
    expect(next.seq).toBe(before + 2);
    expect(await fed.logSize(fed.association, 'alpha')).toBeGreaterThanOrEqual(next.seq);
  });

  it("on the association's own node, waits only for its own checkpoint, which it cosigns as it signs", async () => {
    const created = await fed.list(fed.association, ids('own'));
    const node = fed.association.node;
    const roster = node.federation.roster.current();
    const cp = await new CheckpointRepository(node.database.db).latest('association');
    expect(cp && roster && isCosigned(cp.note, witnessOf(roster)!) ? cp.size : 0).toBeGreaterThanOrEqual(created.seq);
  });

  it('a retraction is witnessed too', async () => {
    const created = await fed.list('alpha', ids('retract'));
    const retracted = await fed.retract('alpha', created.id);
    expect(retracted.status).toBe('retracted');
    expect(await cosignedAtAssociation()).toBeGreaterThanOrEqual(created.seq + 1);
  });
});
