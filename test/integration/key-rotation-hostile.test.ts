/**
 * A member that rotated its key, serving its own log from a hostile node (docs/PROTOCOL.md, "Key
 * history"): a checkpoint by a key with a period is judged by its last entry before anything of it
 * is stored. The last entry is fetched with an inclusion proof; a proof that does not lead to the
 * signed root is bad_response, a retired key over a later entry is bad_signature, and in both cases
 * no entry is stored and nothing matches. The same log under the valid key is then accepted.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toBase64 } from '../../src/crypto/encoding.js';
import { generateEd25519KeyPair } from '../../src/crypto/index.js';
import { encodeEntry } from '../../src/log/entry.js';
import { logOrigin, signCheckpoint } from '../../src/log/checkpoint.js';
import { inclusionProof, leafHash, rootFromLeafHashes } from '../../src/log/merkle.js';
import { addMember, rotateKey } from '../../src/roster/index.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { paymentAccount } from '../helpers/fixtures.js';
import { craftListing, HostilePeer } from '../helpers/hostile-peer.js';

const MALLORY = 'mallory';
let fed: TestFederation;
let mallory: HostilePeer;
let beta: FedNode;
const next = generateEd25519KeyPair();
const ids = [paymentAccount('alipay:rotated-1'), paymentAccount('alipay:rotated-2')];

beforeAll(async () => {
  mallory = await HostilePeer.start(MALLORY);
  fed = await createFederation(1, { extra: { limits: { peerRatePerSecond: 1_000_000, peerBurst: 1_000_000 } } });
  beta = fed.nodes[0]!;
  const joined = new Date(Date.now() - 60_000);
  await fed.updateRoster((draft) => {
    const added = addMember(draft, mallory.member, joined.toISOString());
    if (!added.ok) throw new Error(added.error);
    // The new key from 30 s ago; the old one retired 20 s ago, before every entry served below.
    const rotated = rotateKey(added.draft, MALLORY, toBase64(next.publicKey), new Date(joined.getTime() + 30_000).toISOString(), new Date(joined.getTime() + 40_000).toISOString());
    if (!rotated.ok) throw new Error(rotated.error);
    return rotated.draft;
  });
});

afterAll(async () => {
  await fed?.stop();
  await mallory?.close();
});

beforeEach(() => {
  mallory.checkpoints = [];
  mallory.logs.clear();
  mallory.override = undefined;
});

/** Mallory's log of two listings dated now, with a checkpoint signed by `secretKey`; returns the leaf hashes. */
function serve(secretKey: Uint8Array): Uint8Array[] {
  const entries = ids.map((id, i) => encodeEntry(craftListing(MALLORY, i + 1, fed.tokens([id]))));
  const name = logOrigin(beta.node.config.federation, MALLORY);
  const root = rootFromLeafHashes(entries.map(leafHash));
  mallory.logs.set(MALLORY, { entries });
  mallory.checkpoints = [{ origin: MALLORY, size: entries.length, note: signCheckpoint({ origin: name, size: entries.length, root }, { name, secretKey }) }];
  return entries.map(leafHash);
}

/** The hostile helper serves no inclusion proofs of its own: these are honest. */
function honestProofs(hashes: Uint8Array[]): void {
  mallory.override = (req) => {
    const m = /\/inclusion\/(\d+)\/(\d+)$/.exec(req.path);
    return m ? HostilePeer.rawJson(JSON.stringify({ proof: inclusionProof(hashes.slice(0, Number(m[2])), Number(m[1])).map(toBase64) })) : undefined;
  };
}

async function recorded(kind: string): Promise<string> {
  const found = await waitFor(async () => (await fed.status(beta)).misbehaviour.find((m) => m.kind === kind && m.origin === MALLORY), {
    timeoutMs: 15_000,
    message: `beta to record ${kind} for ${MALLORY}`,
  });
  return found.message;
}

async function expectNothingStored(): Promise<void> {
  expect(await fed.logSize(beta, MALLORY)).toBe(0);
  expect((await fed.check(beta, [ids[0]!])).decision).toBe('allow');
}

describe('a checkpoint of a member with a key history, from a hostile node', () => {
  it('whose last entry is not proven included is bad_response, and nothing is stored', async () => {
    serve(next.secretKey);
    mallory.override = (req) => (req.path.includes('/inclusion/') ? HostilePeer.rawJson(JSON.stringify({ proof: [toBase64(new Uint8Array(32).fill(9))] })) : undefined);
    await beta.node.federation.sync.syncOnce(MALLORY).catch(() => undefined);
    expect(await recorded('bad_response')).toMatch(/not proven included/);
    await expectNothingStored();
  });

  it('signed by the retired key over entries dated after its validUntil is bad_signature, and nothing is stored', async () => {
    honestProofs(serve(mallory.keyPair.secretKey));
    await beta.node.federation.sync.syncOnce(MALLORY).catch(() => undefined);
    expect(await recorded('bad_signature')).toMatch(/valid from .* but its last entry is dated/);
    await expectNothingStored();
  });

  it('signed by the current key with an honest inclusion proof is accepted', async () => {
    honestProofs(serve(next.secretKey));
    await waitFor(
      async () => {
        await beta.node.federation.sync.syncOnce(MALLORY).catch(() => undefined);
        return (await fed.logSize(beta, MALLORY)) === 2;
      },
      { timeoutMs: 15_000, message: `beta to take ${MALLORY}'s log` },
    );
    expect((await fed.check(beta, [ids[0]!])).decision).toBe('deny');
  });
});
