/**
 * Lift events that no listing write causes (docs/EVENTS.md): a listing reaching its expiry, and
 * the roster suspending, reinstating or removing the listing's origin. Real nodes on a real SQLite
 * file; the roster changes travel through a real 2-node federation. The sweep is called directly
 * where the test moves the clock, and runs by itself (roster adoption) in the federation test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { createNode, type JointbanNode } from '../../src/node.js';
import { removeMember, suspendMember, type RosterDraft } from '../../src/roster/index.js';
import type { EventView } from '../../src/service/watch.js';
import { EXPIRY_SWEPT_UNTIL } from '../../src/service/watch-lifts.js';
import { NodeMetaRepository } from '../../src/store/node-meta-repository.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { email, json, listingBody, nationalId, phone, type CreatedListingBody } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode | undefined;
let fed: TestFederation | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
  await fed?.stop();
  fed = undefined;
});

async function eventsAt(url: string, key: string): Promise<EventView[]> {
  const res = await fetch(`${url}/v1/events?limit=1000`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return (await json<{ events: EventView[] }>(res)).events;
}

describe('a listing that reaches its expiry', () => {
  it('records one lift with reason "expired" for each watching account, never twice, also across a restart', async () => {
    let offsetMs = 0;
    t = await createTestNode({ now: () => new Date(Date.now() + offsetMs) });
    const node = t;
    const events = () => eventsAt(node.url, node.adminKey);
    const watch = await node.request('PUT', '/v1/watch', {
      key: node.adminKey,
      body: {
        watch: [
          { reference: 'user-1', identifiers: [phone(), email()] },
          { reference: 'user-2', identifiers: [email()] },
        ],
      },
    });
    expect(watch.status).toBe(200);

    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    const short = await node.request('POST', '/v1/listings', { key: node.adminKey, body: listingBody({ identifiers: [phone()], reference: 'banned-1', expiresAt }) });
    expect(short.status).toBe(201);
    const shortId = (await json<CreatedListingBody>(short)).id;
    // A permanent listing of user-2's e-mail: still counting after the other expired.
    const lasting = await node.request('POST', '/v1/listings', { key: node.adminKey, body: listingBody({ identifiers: [email()], reference: 'banned-2' }) });
    expect(lasting.status).toBe(201);
    expect((await events()).map((e) => [e.kind, e.reference])).toEqual([
      ['match', 'user-1'],
      ['match', 'user-1'],
      ['match', 'user-2'],
    ]);

    // Before the expiry a sweep finds nothing.
    expect(await node.node.lifts.sweep()).toEqual({ expired: 0, roster: 0 });
    offsetMs = 61_000;
    expect(await node.node.lifts.sweep()).toEqual({ expired: 1, roster: 0 });
    const lifts = (await events()).filter((e) => e.kind === 'lift');
    expect(lifts).toHaveLength(1);
    expect(lifts[0]).toMatchObject({ kind: 'lift', reason: 'expired', reference: 'user-1', listingId: shortId, identifierTypes: ['phone'] });
    // user-1's e-mail is still listed: the lift carries the verdict that remains, not an all-clear.
    expect(lifts[0]!.matches.map((m) => m.identifierType)).toEqual(['email']);
    expect(lifts[0]!.monetization.decision).toBe('deny');
    // Matches carry no reason.
    expect((await events()).filter((e) => e.kind === 'match').every((e) => e.reason === undefined)).toBe(true);

    expect(await node.node.lifts.sweep()).toEqual({ expired: 0, roster: 0 });
    const covered = await new NodeMetaRepository(node.node.database.db).get(EXPIRY_SWEPT_UNTIL);
    expect(covered! >= expiresAt).toBe(true);

    // The progress is in the database: the restarted node's sweeps at start and now repeat nothing.
    await node.close();
    const again: JointbanNode = await createNode(loadConfig(node.dataDir, {}), { logger: createLogger('silent'), now: () => new Date(Date.now() + offsetMs) });
    try {
      await again.listen();
      expect(await again.lifts.sweep()).toEqual({ expired: 0, roster: 0 });
      expect((await again.watch.events(undefined, 1000)).events.filter((e) => e.kind === 'lift')).toHaveLength(1);
    } finally {
      await again.stop();
    }
  });

  it('records nothing while the node watches nothing, yet moves past the expiry, so a later watch hears nothing of it', async () => {
    let offsetMs = 0;
    t = await createTestNode({ now: () => new Date(Date.now() + offsetMs) });
    const meta = new NodeMetaRepository(t.node.database.db);
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    expect((await t.request('POST', '/v1/listings', { key: t.adminKey, body: listingBody({ identifiers: [nationalId()], expiresAt }) })).status).toBe(201);
    offsetMs = 61_000;
    expect(await t.node.lifts.sweep()).toEqual({ expired: 0, roster: 0 });
    expect((await meta.get(EXPIRY_SWEPT_UNTIL))! >= expiresAt).toBe(true);
    // Watching it now: the listing has expired, so there is nothing to match and nothing to lift.
    expect((await t.request('PUT', '/v1/watch', { key: t.adminKey, body: { watch: [{ reference: 'late', identifiers: [nationalId()] }] } })).status).toBe(200);
    expect(await t.node.lifts.sweep()).toEqual({ expired: 0, roster: 0 });
    expect(await eventsAt(t.url, t.adminKey)).toEqual([]);
  });
});

/** Sets a member back to active: the roster CLI has no "reinstate", an association edits the member. */
function reinstate(draft: RosterDraft, id: string): RosterDraft {
  return {
    ...draft,
    members: draft.members.map((m) => {
      if (m.id !== id) return m;
      const { suspendedAt: _s, ...rest } = m;
      return { ...rest, status: 'active' as const };
    }),
  };
}

function ok<T extends { ok: boolean }>(result: T): Extract<T, { ok: true }> {
  if (!result.ok) throw new Error(JSON.stringify(result));
  return result as Extract<T, { ok: true }>;
}

describe("a roster change about the origin of a watched account's listing", () => {
  it('suspension records a lift (member_suspended), reinstatement a match, removal a lift (member_removed)', { timeout: 60_000 }, async () => {
    fed = await createFederation(2);
    const f = fed;
    const [alpha, beta] = f.nodes as [FedNode, FedNode];
    const events = () => eventsAt(beta.url, beta.writeKey);
    const put = await fetch(`${beta.url}/v1/watch`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${beta.writeKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ watch: [{ reference: 'beta-user', identifiers: [nationalId()] }] }),
    });
    expect(put.status).toBe(200);
    const listed = await f.list(alpha, [nationalId()]);
    await waitFor(async () => (await events()).some((e) => e.kind === 'match'), { message: 'the match on beta' });

    // Suspended from before the listing: the listing stops counting, and beta says so.
    const since = alpha.node.federation.roster.current()!.members.find((m) => m.id === 'alpha')!.since;
    await f.updateRoster((draft) => ok(suspendMember(draft, 'alpha', since)).draft);
    const suspended = await waitFor(async () => (await events()).find((e) => e.kind === 'lift'), { message: 'a lift on beta after the suspension' });
    expect(suspended).toMatchObject({ kind: 'lift', reason: 'member_suspended', reference: 'beta-user', listingId: listed.id, origin: 'alpha', identifierTypes: ['national_id'] });
    expect(suspended.registration.decision).toBe('allow');
    expect(suspended.monetization.decision).toBe('allow');
    expect((await f.check(beta, [nationalId()])).decision).toBe('allow');

    await f.updateRoster((draft) => reinstate(draft, 'alpha'));
    const again = await waitFor(async () => (await events()).filter((e) => e.kind === 'match').at(1), { message: 'a match on beta after the reinstatement' });
    expect(again).toMatchObject({ kind: 'match', reference: 'beta-user', listingId: listed.id });
    expect(again.reason).toBeUndefined();
    expect(again.monetization.decision).toBe('deny');

    await f.updateRoster((draft) => ok(removeMember(draft, 'alpha')).draft);
    const removed = await waitFor(async () => (await events()).filter((e) => e.kind === 'lift').at(1), { message: 'a lift on beta after the removal' });
    expect(removed).toMatchObject({ kind: 'lift', reason: 'member_removed', listingId: listed.id });
    expect(removed.monetization.decision).toBe('allow');

    // Each change was announced once: a sweep with nothing new records nothing.
    expect(await beta.node.lifts.sweep()).toEqual({ expired: 0, roster: 0 });
    expect((await events()).map((e) => `${e.kind}:${e.reason ?? ''}`)).toEqual(['match:', 'lift:member_suspended', 'match:', 'lift:member_removed']);
    // The origin itself watches nothing and records nothing.
    expect(await eventsAt(alpha.url, alpha.writeKey)).toEqual([]);
  });
});
