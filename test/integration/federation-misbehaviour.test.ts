/**
 * A hostile member ("mallory", in the signed roster with its own key) serves crafted federation
 * data to real nodes, one failure mode per test. Each time the honest node must reject the data,
 * record the fault with its kind and evidence (GET /v1/federation/status and the misbehaviour
 * table), keep every identifier of the crafted data out of its check index, and still receive an
 * honest listing made meanwhile on another node.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toBase64 } from '../../src/crypto/encoding.js';
import { encodeEntry, type ListingEntry } from '../../src/log/entry.js';
import { leafHash } from '../../src/log/merkle.js';
import { addMember } from '../../src/roster/index.js';
import type { Misbehaviour, MisbehaviourKind } from '../../src/store/misbehaviour-repository.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { paymentAccount, type Identifier } from '../helpers/fixtures.js';
import { craftListing, HostilePeer } from '../helpers/hostile-peer.js';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const MALLORY = 'mallory';

let fed: TestFederation;
let mallory: HostilePeer;
let alpha: FedNode;
let beta: FedNode;
let gamma: FedNode;

beforeEach(async () => {
  mallory = await HostilePeer.start(MALLORY);
  fed = await createFederation(3);
  [alpha, beta, gamma] = fed.nodes as [FedNode, FedNode, FedNode];
  await fed.updateRoster((draft, now) => {
    const added = addMember(draft, mallory.member, now);
    if (!added.ok) throw new Error(added.error);
    return added.draft;
  });
  for (const n of fed.all) expect(n.node.federation.roster.current()?.members.map((m) => m.id)).toContain(MALLORY);
});

afterEach(async () => {
  await fed?.stop();
  await mallory?.close();
});

const federationName = () => alpha.node.config.federation;
const ids = (label: string, n = 1): Identifier[] => Array.from({ length: n }, (_, i) => paymentAccount(`alipay:${label}-${i + 1}`));

/** A listing entry of `origin` at `seq` whose tokens are those of `identifiers` in this federation. */
function entryFor(origin: string, seq: number, identifiers: Identifier[]): ListingEntry {
  return craftListing(origin, seq, fed.tokens(identifiers));
}

/** Waits until `node` has recorded a fault of this kind about `origin` served by mallory, in status and table. */
async function expectRecorded(node: FedNode, kind: MisbehaviourKind, origin: string): Promise<Misbehaviour> {
  const found = await waitFor(async () => (await fed.status(node)).misbehaviour.find((m) => m.kind === kind && m.origin === origin && m.peer === MALLORY), {
    message: `${node.member} to record ${kind} about ${origin} from ${MALLORY} (mallory saw: ${mallory.requests.slice(-5).join(', ')})`,
  });
  expect(found.message).toEqual(expect.any(String));
  expect(Object.keys(found.evidence).length).toBeGreaterThan(0);
  const row = await node.node.database.db.selectFrom('misbehaviour').selectAll().where('id', '=', found.id).executeTakeFirstOrThrow();
  expect(row).toMatchObject({ kind, origin, peer: MALLORY });
  expect(JSON.parse(row.evidence)).toEqual(found.evidence);
  // The round against mallory fails and says why; the sync loop backs off from it.
  await waitFor(async () => (await fed.status(node)).peers.find((p) => p.member === MALLORY)?.lastError?.includes(kind), {
    message: `${node.member}'s sync status for ${MALLORY} to name ${kind}`,
  });
  return found;
}

async function expectAllowed(node: FedNode, identifiers: Identifier[]): Promise<void> {
  const result = await fed.check(node, identifiers);
  expect(result.decision).toBe('allow');
  expect(result.matches).toEqual([]);
}

/** An honest listing on `origin` made now reaches `node` despite mallory. */
async function expectHonestPropagation(origin: FedNode, node: FedNode, label: string): Promise<void> {
  const honest = ids(label);
  const listed = await fed.list(origin, honest);
  await fed.waitForDecision(node, honest, 'deny');
  expect((await fed.check(node, honest)).matches).toEqual([expect.objectContaining({ listingId: listed.id })]);
}

describe('bad signature: a checkpoint for an honest origin signed with the wrong key', () => {
  it('is rejected as bad_signature and nothing of it is stored', async () => {
    const forgedIds = ids('forged', 2);
    const forged = encodeEntry(entryFor('alpha', 1, forgedIds));
    const cp = mallory.signCheckpointFor(federationName(), 'alpha', [forged]);
    mallory.logs.set('alpha', { entries: [forged] });
    mallory.checkpoints = [cp];

    for (const victim of [beta, gamma, fed.association]) {
      const found = await expectRecorded(victim, 'bad_signature', 'alpha');
      expect(found.evidence).toEqual({ checkpoint: cp.note });
      await expectAllowed(victim, forgedIds);
      expect(await fed.logSize(victim, 'alpha')).toBe(0);
    }
    // Rejected at the signature: the forged entries were never even fetched.
    expect(mallory.requests.filter((r) => r.includes('/entries/'))).toEqual([]);
    await expectHonestPropagation(alpha, beta, 'honest-after-forgery');
    await expectAllowed(beta, forgedIds);
  });
});

describe('root mismatch: an honest origin’s valid checkpoint with tampered entry bytes', () => {
  it('is rejected as root_mismatch; the real entry arrives once an honest copy is reachable', async () => {
    // beta and gamma hold alpha's first listing, so the tampered page extends a tree they hold.
    const first = ids('alpha-first');
    await fed.list(alpha, first);
    for (const n of [beta, gamma]) await fed.waitForDecision(n, first, 'deny');

    // alpha lists again while beta and gamma are down; mallory fetches the result as a member.
    await fed.stopNode(beta);
    await fed.stopNode(gamma);
    const second = ids('alpha-second');
    await fed.list(alpha, second);
    const malloryKey = { keyId: MALLORY, secretKey: mallory.keyPair.secretKey };
    const alphaCp = await waitFor(
      async () => {
        const res = await fed.signedFetch(alpha, '/v1/federation/checkpoints', malloryKey);
        const body = (await res.json()) as { checkpoints: { origin: string; size: number; note: string }[] };
        return body.checkpoints.find((c) => c.origin === 'alpha' && c.size === 2);
      },
      { message: 'alpha to sign a checkpoint of size 2' },
    );
    const res = await fed.signedFetch(alpha, '/v1/federation/logs/alpha/entries/0/2', malloryKey);
    expect(res.status).toBe(200);
    const honest = ((await res.json()) as { entries: string[] }).entries.map((e) => new Uint8Array(Buffer.from(e, 'base64')));
    expect(honest).toHaveLength(2);

    // Only mallory can now serve alpha's log: alpha and the association (the other holders) go down.
    await fed.stopNode(alpha);
    await fed.stopNode(fed.association);
    const tamperedIds = ids('tampered', 2);
    const tampered = encodeEntry(entryFor('alpha', 2, tamperedIds));
    // A careful forger: the tampered bytes, but honest consistency proofs (from the honest leaves).
    mallory.logs.set('alpha', { entries: [honest[0]!, tampered], proofLeaves: honest.map(leafHash) });
    mallory.checkpoints = [alphaCp];

    await fed.startNode(beta);
    await fed.startNode(gamma);
    for (const victim of [beta, gamma]) {
      const found = await expectRecorded(victim, 'root_mismatch', 'alpha');
      expect(found.evidence).toEqual({ checkpoint: alphaCp.note, from: 1 });
      await expectAllowed(victim, tamperedIds);
      await expectAllowed(victim, second);
      expect((await fed.check(victim, first)).decision).toBe('deny');
      expect(await fed.logSize(victim, 'alpha')).toBe(1);
    }
    // An honest listing made meanwhile on another node still propagates.
    await expectHonestPropagation(gamma, beta, 'honest-meanwhile');

    // Once an honest copy of alpha's log is reachable again, the real entry arrives.
    await fed.startNode(fed.association);
    await fed.startNode(alpha);
    await fed.waitForDecision(beta, second, 'deny');
    await expectAllowed(beta, tamperedIds);
    expect(await fed.logSize(beta, 'alpha')).toBe(2);
  });
});

describe('rewritten history: a longer log that does not extend the one accepted', () => {
  it('is rejected as inconsistent_checkpoint and the accepted history stays', async () => {
    const historyA = [ids('history-a-1'), ids('history-a-2')];
    const cpA = mallory.serveOwnLog(
      federationName(),
      historyA.map((id, i) => entryFor(MALLORY, i + 1, id)),
    );
    for (const id of historyA) await fed.waitForDecision(beta, id, 'deny');
    await waitFor(async () => (await fed.status(beta)).origins.find((o) => o.origin === MALLORY)?.checkpointSize === 2, {
      message: 'beta to store mallory’s checkpoint of size 2',
    });

    const historyB = [ids('history-b-1'), ids('history-b-2'), ids('history-b-3')];
    const cpB = mallory.serveOwnLog(
      federationName(),
      historyB.map((id, i) => entryFor(MALLORY, i + 1, id)),
    );
    expect(cpB.size).toBe(3);

    const found = await expectRecorded(beta, 'inconsistent_checkpoint', MALLORY);
    // The accepted note is mallory's signed note, possibly with the witness's cosignature appended.
    expect(found.evidence).toMatchObject({ checkpoint: cpB.note, accepted: expect.stringMatching(`^${escapeRegExp(cpA.note)}`), acceptedSize: 2 });
    for (const id of historyB) await expectAllowed(beta, id);
    for (const id of historyA) expect((await fed.check(beta, id)).decision).toBe('deny');
    expect(await fed.logSize(beta, MALLORY)).toBe(2);
    await expectHonestPropagation(alpha, beta, 'honest-after-rewrite');
  });
});

describe('equivocation: two signed checkpoints of one size with different roots', () => {
  it('is rejected as equivocation with both checkpoints as evidence', async () => {
    const shared = ids('equivocation-1');
    const cpA = mallory.serveOwnLog(federationName(), [entryFor(MALLORY, 1, shared), entryFor(MALLORY, 2, ids('equivocation-a'))]);
    await fed.waitForDecision(beta, ids('equivocation-a'), 'deny');
    await waitFor(async () => (await fed.status(beta)).origins.find((o) => o.origin === MALLORY)?.checkpointSize === 2, {
      message: 'beta to store mallory’s checkpoint of size 2',
    });

    const other = ids('equivocation-b');
    const cpB = mallory.serveOwnLog(federationName(), [entryFor(MALLORY, 1, shared), entryFor(MALLORY, 2, other)]);
    expect(cpB.size).toBe(cpA.size);
    expect(cpB.note).not.toBe(cpA.note);

    const found = await expectRecorded(beta, 'equivocation', MALLORY);
    expect(found.evidence).toMatchObject({ checkpoint: cpB.note, conflictsWith: expect.stringMatching(`^${escapeRegExp(cpA.note)}`) });
    await expectAllowed(beta, other);
    expect(await fed.logSize(beta, MALLORY)).toBe(2);
    await expectHonestPropagation(alpha, beta, 'honest-after-equivocation');
  });
});

describe('foreign origin: the hostile member’s own signed log holds an entry claiming origin alpha', () => {
  it('is rejected as foreign_origin and no listing is attributed to alpha', async () => {
    const foreignIds = ids('foreign', 2);
    const foreign = entryFor('alpha', 1, foreignIds);
    const cp = mallory.serveOwnLog(federationName(), [foreign]);

    for (const victim of [beta, gamma]) {
      const found = await expectRecorded(victim, 'foreign_origin', MALLORY);
      expect(found.evidence).toEqual({ checkpoint: cp.note, index: 0, entry: toBase64(encodeEntry(foreign)) });
      await expectAllowed(victim, foreignIds);
      expect(await fed.logSize(victim, MALLORY)).toBe(0);
      expect(await fed.logSize(victim, 'alpha')).toBe(0);
    }
    await expectHonestPropagation(alpha, beta, 'honest-after-foreign');
    // alpha's real first listing is alpha:1, and it is not the foreign entry.
    await expectAllowed(beta, foreignIds);
  });
});
