/**
 * The association as witness: it cosigns the member checkpoints it verified, refuses to cosign a
 * rewritten history (and records it), and members that require its cosignature act only on
 * witnessed checkpoints, so a member showing different histories to different peers gets caught
 * while honest data keeps flowing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeEntry } from '../../src/log/entry.js';
import { addMember } from '../../src/roster/index.js';
import { witnessOf, isCosigned } from '../../src/roster/witness.js';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { craftListing, HostilePeer } from '../helpers/hostile-peer.js';

const FEDERATION = 'demo.jointban.example';
let fed: TestFederation;
let mallory: HostilePeer;

const phone = (n: number) => [{ type: 'phone' as const, value: `+86 139 0000 ${String(n).padStart(4, '0')}` }];

beforeEach(async () => {
  fed = await createFederation(2, { extra: { sync: { requireCosignature: true } } });
  mallory = await HostilePeer.start('mallory');
  await fed.updateRoster((draft, now) => {
    const r = addMember(draft, mallory.member, now);
    if (!r.ok) throw new Error(r.error);
    return r.draft;
  });
});

afterEach(async () => {
  await fed?.stop();
  await mallory?.close();
});

function misbehaviourOf(status: { misbehaviour: { kind: string; origin: string }[] }, kind: string) {
  return status.misbehaviour.filter((m) => m.kind === kind && m.origin === 'mallory');
}

describe('honest data under the witness requirement', () => {
  it('is cosigned by the association and acted on by the other members', async () => {
    const listed = await fed.list('alpha', phone(1));
    await fed.waitForDecision('beta', phone(1), 'deny');
    const roster = fed.association.node.federation.roster.current()!;
    const witness = witnessOf(roster)!;
    const held = await new CheckpointRepository(fed.get('beta').node.database.db).latest('alpha');
    expect(held!.size).toBeGreaterThanOrEqual(listed.seq);
    expect(isCosigned(held!.note, witness)).toBe(true);
    const status = await fed.status('beta');
    expect(status.origins.find((o) => o.origin === 'alpha')).toMatchObject({ cosigned: true });
  });
});

describe('a member that rewrites its history', () => {
  it('is refused a cosignature by the witness, which records the evidence', async () => {
    const a = [craftListing('mallory', 1, fed.tokens(phone(11)))];
    mallory.serveOwnLog(FEDERATION, a);
    const assocDb = fed.association.node.database.db;
    await waitFor(async () => (await new CheckpointRepository(assocDb).latest('mallory'))?.size === 1, { message: 'the association accepting mallory size 1' });

    // A longer history that does not extend the one the witness cosigned.
    mallory.serveOwnLog(FEDERATION, [craftListing('mallory', 1, fed.tokens(phone(12))), craftListing('mallory', 2, fed.tokens(phone(13)))]);
    const recorded = await waitFor(async () => misbehaviourOf(await fed.status(fed.association), 'inconsistent_checkpoint')[0], {
      message: 'the witness recording the rewritten history',
    });
    expect(recorded).toMatchObject({ kind: 'inconsistent_checkpoint', origin: 'mallory', peer: 'mallory' });
    const repo = new CheckpointRepository(assocDb);
    expect((await repo.latest('mallory'))!.size).toBe(1);
    expect(await repo.atSize('mallory', 2)).toBeUndefined();
    await fed.waitForDecision('beta', phone(11), 'deny');
    expect((await fed.check('beta', phone(13))).decision).toBe('allow');
  });
});

describe('a member that shows different peers different histories', () => {
  it('is caught by a member requiring cosignatures, which ignores the fork while honest data flows', async () => {
    const toWitness = [encodeEntry(craftListing('mallory', 1, fed.tokens(phone(21))))];
    const toBeta = [encodeEntry(craftListing('mallory', 1, fed.tokens(phone(22))))];
    const cpWitness = mallory.signCheckpointFor(FEDERATION, 'mallory', toWitness);
    const cpBeta = mallory.signCheckpointFor(FEDERATION, 'mallory', toBeta);
    mallory.views.set('association', { checkpoints: [cpWitness], logs: new Map([['mallory', { entries: toWitness }]]) });
    mallory.views.set('beta', { checkpoints: [cpBeta], logs: new Map([['mallory', { entries: toBeta }]]) });
    mallory.views.set('alpha', { checkpoints: [], logs: new Map() });

    // Beta gets the witnessed history through the association, and sees the other one from mallory.
    await fed.waitForDecision('beta', phone(21), 'deny');
    const recorded = await waitFor(async () => misbehaviourOf(await fed.status('beta'), 'equivocation')[0], { message: 'beta recording the equivocation' });
    expect(recorded).toMatchObject({ origin: 'mallory', peer: 'mallory' });
    expect(JSON.stringify(recorded)).toContain(cpBeta.note.split('\n')[2]!);

    // The fork never reaches beta's check index, and honest listings keep flowing.
    expect((await fed.check('beta', phone(22))).decision).toBe('allow');
    await fed.list('alpha', phone(23));
    await fed.waitForDecision('beta', phone(23), 'deny');
    expect((await fed.check('beta', phone(22))).decision).toBe('allow');
  });

  it('is not acted on by a member when only the uncosigned fork exists', async () => {
    const toBeta = [encodeEntry(craftListing('mallory', 1, fed.tokens(phone(31))))];
    mallory.views.set('beta', { checkpoints: [mallory.signCheckpointFor(FEDERATION, 'mallory', toBeta)], logs: new Map([['mallory', { entries: toBeta }]]) });
    mallory.views.set('association', { checkpoints: [], logs: new Map() });
    mallory.views.set('alpha', { checkpoints: [], logs: new Map() });
    await fed.list('alpha', phone(32));
    await fed.waitForDecision('beta', phone(32), 'deny');
    await waitFor(() => mallory.requests.filter((r) => r.includes('/checkpoints')).length >= 3, { message: 'beta polling mallory' });
    expect((await fed.check('beta', phone(31))).decision).toBe('allow');
    expect(await fed.logSize('beta', 'mallory')).toBe(0);
  });
});
