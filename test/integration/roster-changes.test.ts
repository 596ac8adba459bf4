/**
 * Roster changes reach listings a node already holds: a removed member's listings stop matching,
 * and so do a suspended member's listings made at or after a (possibly backdated) suspension,
 * while its earlier ones keep matching.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeMember, suspendMember } from '../../src/roster/index.js';
import { createFederation, type TestFederation } from '../helpers/federation.js';
import { listingBody } from '../helpers/fixtures.js';

let fed: TestFederation;
const id = (n: number) => [{ type: 'phone' as const, value: `+86 137 0000 ${String(n).padStart(4, '0')}` }];

beforeEach(async () => {
  fed = await createFederation(2);
});

afterEach(async () => {
  await fed?.stop();
});

describe('a member removed from the roster', () => {
  it('no longer has its listings matched on nodes that already hold them', async () => {
    await fed.list('alpha', id(1));
    await fed.waitForDecision('beta', id(1), 'deny');
    await fed.updateRoster((draft) => {
      const r = removeMember(draft, 'alpha');
      if (!r.ok) throw new Error(r.error);
      return r.draft;
    });
    expect((await fed.check('beta', id(1))).decision).toBe('allow');
    // Its own node still answers from its own listings.
    expect((await fed.check('alpha', id(1))).decision).toBe('deny');
    // And may still write: unlike a suspension, not being listed is not final (a member imports its
    // bans before the association adds it), and its log counts again once it is listed.
    const sizeBefore = await fed.logSize('alpha', 'alpha');
    await fed.list('alpha', id(9));
    expect(await fed.logSize('alpha', 'alpha')).toBe(sizeBefore + 1);
  });
});

describe('a member suspended with a backdated time', () => {
  it('keeps its earlier listings matched and stops its later ones', async () => {
    await fed.list('alpha', id(2));
    await fed.waitForDecision('beta', id(2), 'deny');
    const cut = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await fed.list('alpha', id(3));
    await fed.waitForDecision('beta', id(3), 'deny');
    await fed.updateRoster((draft) => {
      const r = suspendMember(draft, 'alpha', cut);
      if (!r.ok) throw new Error(r.error);
      return r.draft;
    });
    expect((await fed.check('beta', id(2))).decision).toBe('deny');
    expect((await fed.check('beta', id(3))).decision).toBe('allow');
  });
});

describe("a suspended member's own node", () => {
  it('refuses to list or retract (403 forbidden, nothing written): its peers and verify would refuse the entries', async () => {
    const listed = await fed.list('alpha', id(4));
    await fed.updateRoster((draft, now) => {
      const r = suspendMember(draft, 'alpha', now);
      if (!r.ok) throw new Error(r.error);
      return r.draft;
    });
    const alpha = fed.get('alpha');
    const sizeBefore = await fed.logSize('alpha', 'alpha');
    const post = (path: string, body: Record<string, unknown>) =>
      fetch(`${alpha.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${alpha.writeKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

    const list = await post('/v1/listings', listingBody({ identifiers: id(5) }));
    expect(list.status).toBe(403);
    expect(((await list.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/alpha is suspended/) });
    const retract = await post(`/v1/listings/${encodeURIComponent(listed.id)}/retract`, { reason: 'appeal_upheld' });
    expect(retract.status).toBe(403);
    expect(await fed.logSize('alpha', 'alpha')).toBe(sizeBefore);
    // The listing made before the suspension still stands at its origin.
    expect((await fed.check('alpha', id(4))).decision).toBe('deny');
  });
});
