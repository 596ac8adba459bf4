/**
 * Who may use the federation API, and which roster a node trusts, over real nodes on loopback:
 * only active roster members with fresh, unreplayed RFC 9421 signatures; a suspended member is
 * locked out and its entries dated after the suspension are refused while its earlier ones stay;
 * a roster is accepted only when the trust root signed it and it is not older than the one held.
 */
import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../src/crypto/index.js';
import { logOrigin, signCheckpoint } from '../../src/log/checkpoint.js';
import { encodeEntry } from '../../src/log/entry.js';
import { leafHash, rootFromLeafHashes } from '../../src/log/merkle.js';
import { addMember, openRoster, parseTrustRoot, signRoster, suspendMember, type RosterDraft } from '../../src/roster/index.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { listingBody, paymentAccount, type ErrorBody } from '../helpers/fixtures.js';
import { craftListing, HostilePeer } from '../helpers/hostile-peer.js';

const CHECKPOINTS = '/v1/federation/checkpoints';

let fed: TestFederation;
let alpha: FedNode;
let beta: FedNode;
let gamma: FedNode;
const closers: (() => Promise<void>)[] = [];

beforeEach(async () => {
  fed = await createFederation(3);
  [alpha, beta, gamma] = fed.nodes as [FedNode, FedNode, FedNode];
});

afterEach(async () => {
  await fed?.stop();
  for (const close of closers.splice(0)) await close();
});

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as ErrorBody).error.code;
}

function edit(fn: (draft: RosterDraft, now: string) => { ok: true; draft: RosterDraft } | { ok: false; error: string }) {
  return (draft: RosterDraft, now: string): RosterDraft => {
    const result = fn(draft, now);
    if (!result.ok) throw new Error(result.error);
    return result.draft;
  };
}

describe('federation API authentication', () => {
  it('answers a request signed by an active member', async () => {
    const res = await fed.signedFetch(alpha, CHECKPOINTS, fed.asMember(beta));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { checkpoints: { origin: string }[] };
    expect(body.checkpoints.map((c) => c.origin)).toContain('alpha');
  });

  it('refuses an unsigned request with 401', async () => {
    for (const path of [CHECKPOINTS, '/v1/federation/logs/alpha/entries/0/1', '/v1/federation/logs/alpha/consistency/1/1']) {
      const res = await fetch(`${alpha.url}${path}`);
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe('missing_signature');
    }
    const notify = await fetch(`${alpha.url}/v1/federation/notify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"origin":"beta","size":1}' });
    expect(notify.status).toBe(401);
  });

  it('refuses a key that is not in the roster with 401', async () => {
    const outsider = generateEd25519KeyPair();
    const unknown = await fed.signedFetch(alpha, CHECKPOINTS, { keyId: 'outsider', secretKey: outsider.secretKey });
    expect(unknown.status).toBe(401);
    expect(await errorCode(unknown)).toBe('unknown_key');
    // A member's id with someone else's key.
    const impostor = await fed.signedFetch(alpha, CHECKPOINTS, { keyId: 'beta', secretKey: outsider.secretKey });
    expect(impostor.status).toBe(401);
    expect(await errorCode(impostor)).toBe('bad_signature');
    // A node does not accept its own key as a peer.
    const self = await fed.signedFetch(alpha, CHECKPOINTS, fed.asMember(alpha));
    expect(self.status).toBe(401);
  });

  it('refuses a replayed signed request: the same headers twice → 401 replayed', async () => {
    const headers = fed.signedHeaders(alpha, CHECKPOINTS, fed.asMember(beta));
    const first = await fetch(`${alpha.url}${CHECKPOINTS}`, { headers });
    expect(first.status).toBe(200);
    const second = await fetch(`${alpha.url}${CHECKPOINTS}`, { headers });
    expect(second.status).toBe(401);
    expect(await errorCode(second)).toBe('replayed');
    // The same signature sent to another node does not verify there: it covers alpha's authority
    // (fetch() names gamma in Host; hostile-member-requests.test.ts keeps alpha's Host: wrong_authority).
    const elsewhere = await fetch(`${gamma.url}${CHECKPOINTS}`, { headers });
    expect(elsewhere.status).toBe(401);
    expect(await errorCode(elsewhere)).toBe('bad_signature');
  });

  it('refuses a stale or future `created` with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const skew = alpha.node.config.sync.maxSkewSeconds;
    for (const created of [now - skew - 60, now + skew + 60]) {
      const res = await fed.signedFetch(alpha, CHECKPOINTS, { ...fed.asMember(beta), created });
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe('stale');
    }
  });

  it('refuses a body that is not the one signed', async () => {
    const headers = fed.signedHeaders(alpha, '/v1/federation/notify', { ...fed.asMember(beta), method: 'POST', body: { origin: 'beta', size: 1 } });
    const res = await fetch(`${alpha.url}/v1/federation/notify`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ origin: 'beta', size: 2 }),
    });
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe('bad_digest');
  });
});

describe('request signatures and the target authority (@authority)', () => {
  it('a federation that requires it refuses the profile before it: 401 malformed_signature', async () => {
    const old = await fed.signedFetch(alpha, CHECKPOINTS, { ...fed.asMember(beta), authority: null });
    expect(old.status).toBe(401);
    expect(await errorCode(old)).toBe('malformed_signature');
  });
});

describe('a suspended member', () => {
  it('is refused afterwards; its entries dated after the suspension are not accepted, its earlier ones stay', async () => {
    // mallory relays whatever it is given: it will offer gamma's post-suspension entries around.
    const mallory = await HostilePeer.start('mallory');
    closers.push(() => mallory.close());
    await fed.updateRoster(edit((draft, now) => addMember(draft, mallory.member, now)));

    const before = [paymentAccount('alipay:gamma-before')];
    await fed.list(gamma, before);
    for (const n of [alpha, beta]) await fed.waitForDecision(n, before, 'deny');
    expect((await fed.signedFetch(alpha, CHECKPOINTS, fed.asMember(gamma))).status).toBe(200);

    await fed.updateRoster(edit((draft, now) => suspendMember(draft, 'gamma', now)));
    const suspendedAt = beta.node.federation.roster.current()?.members.find((m) => m.id === 'gamma')?.suspendedAt;
    expect(suspendedAt).toEqual(expect.any(String));

    // Its signed requests are refused by every node.
    for (const n of [alpha, beta, fed.association]) {
      const res = await fed.signedFetch(n, CHECKPOINTS, fed.asMember(gamma));
      expect(res.status).toBe(401);
      expect(await errorCode(res)).toBe('unknown_key');
    }

    // gamma's own node holds the roster too, so it refuses to list (403): its entries would be
    // refused everywhere. A gamma that wrote anyway (an old version, a rogue operator) is played by
    // an entry made with gamma's own key; mallory, still a member, relays it, gamma's valid
    // signature and all.
    const after = [paymentAccount('alipay:gamma-after')];
    const refused = await fetch(`${gamma.url}/v1/listings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gamma.writeKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(listingBody({ identifiers: after })),
    });
    expect(refused.status).toBe(403);
    const malloryKey = { keyId: 'mallory', secretKey: mallory.keyPair.secretKey };
    const res = await fed.signedFetch(gamma, '/v1/federation/logs/gamma/entries/0/1', malloryKey);
    const entries: Uint8Array[] = ((await res.json()) as { entries: string[] }).entries.map((e) => new Uint8Array(Buffer.from(e, 'base64')));
    const afterTime = new Date(Math.max(Date.now(), Date.parse(suspendedAt!) + 1));
    entries.push(encodeEntry(craftListing('gamma', 2, fed.tokens(after), afterTime)));
    const name = logOrigin(gamma.node.config.federation, 'gamma');
    const root = rootFromLeafHashes(entries.map(leafHash));
    const cp = { origin: 'gamma', size: 2, note: signCheckpoint({ origin: name, size: 2, root }, { name, secretKey: gamma.node.context.signingKeys().primary.secretKey }) };
    mallory.logs.set('gamma', { entries });
    mallory.checkpoints = [cp];

    for (const n of [alpha, beta]) {
      const found = await waitFor(async () => (await fed.status(n)).misbehaviour.find((m) => m.kind === 'suspended_member' && m.origin === 'gamma' && m.peer === 'mallory'), {
        message: `${n.member} to refuse gamma's entry dated after its suspension`,
      });
      expect(found.evidence).toMatchObject({ checkpoint: cp.note, index: 1 });
      expect(await fed.logSize(n, 'gamma')).toBe(1);
      expect((await fed.check(n, after)).decision).toBe('allow');
      expect((await fed.check(n, before)).decision).toBe('deny');
    }
    expect(await fed.logSize(gamma, 'gamma')).toBe(1);
  });
});

describe('the roster', () => {
  const trustRootOf = (n: FedNode) => {
    const parsed = parseTrustRoot(n.node.config.roster.trustRoot ?? '');
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.trustRoot;
  };

  it('GET /v1/roster serves the signed note, which verifies against the trust root', async () => {
    for (const n of [fed.association, alpha]) {
      const res = await fetch(`${n.url}/v1/roster`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const note = await res.text();
      const opened = openRoster(note, trustRootOf(n));
      expect(opened.ok).toBe(true);
      if (opened.ok) {
        expect(opened.roster.version).toBe(1);
        expect(opened.roster.members.map((m) => m.id)).toEqual(['alpha', 'association', 'beta', 'gamma']);
      }
      expect(note).toBe(n.node.federation.roster.currentNote());
    }
  });

  it('refuses a roster signed by another key, offered directly or through the roster file', async () => {
    const held = beta.node.federation.roster.current()!;
    const heldNote = beta.node.federation.roster.currentNote()!;
    const forgedKey = generateEd25519KeyPair();
    const forged = signRoster({ ...held, version: held.version + 1, issuedAt: new Date().toISOString(), members: held.members.filter((m) => m.id !== 'gamma') }, forgedKey.secretKey);

    const offered = await beta.node.federation.roster.offer(forged);
    expect(offered.ok).toBe(false);
    expect(beta.node.federation.roster.current()?.version).toBe(held.version);
    expect(beta.node.federation.roster.currentNote()).toBe(heldNote);

    writeFileSync(fed.local.rosterFile, forged);
    await fed.association.node.federation.roster.refresh();
    for (const n of fed.all) {
      await n.node.federation.roster.refresh();
      expect(n.node.federation.roster.current()?.version).toBe(1);
      expect(n.node.federation.roster.current()?.members.map((m) => m.id)).toContain('gamma');
    }
    expect(await (await fetch(`${fed.association.url}/v1/roster`)).text()).toBe(heldNote);
    const rows = await beta.node.database.db.selectFrom('rosters').select('version').execute();
    expect(rows.map((r) => r.version)).toEqual([1]);
  });

  it('refuses an older version once a newer one was accepted, also across a restart', async () => {
    const v1 = await (await fetch(`${fed.association.url}/v1/roster`)).text();
    const mallory = generateEd25519KeyPair();
    await fed.updateRoster(
      edit((draft, now) => addMember(draft, { id: 'mallory', name: 'Platform mallory', publicKey: Buffer.from(mallory.publicKey).toString('base64'), endpoint: 'http://127.0.0.1:9' }, now)),
    );
    for (const n of fed.all) expect(n.node.federation.roster.current()?.version).toBe(2);

    const offered = await beta.node.federation.roster.offer(v1);
    expect(offered).toEqual({ ok: false, error: expect.stringContaining('older') });
    expect(beta.node.federation.roster.current()?.version).toBe(2);

    // The association's file is rolled back and the association restarted: it keeps version 2.
    writeFileSync(fed.local.rosterFile, v1);
    await fed.stopNode(fed.association);
    await fed.startNode(fed.association);
    expect(fed.association.node.federation.roster.current()?.version).toBe(2);
    await beta.node.federation.roster.refresh();
    expect(beta.node.federation.roster.current()?.version).toBe(2);
    const served = await (await fetch(`${fed.association.url}/v1/roster`)).text();
    const opened = openRoster(served, trustRootOf(beta));
    expect(opened.ok && opened.roster.version).toBe(2);
  });
});

describe('upgrading a federation: sync.requestAuthority "transition"', () => {
  it('signs without @authority and accepts both profiles; a request signed for another node is still refused', async () => {
    await fed.stop();
    fed = await createFederation(2, { extra: { sync: { requestAuthority: 'transition' } } });
    const [a, b] = fed.nodes as [FedNode, FedNode];
    // The nodes' own sync, in the profile of earlier versions, still moves data.
    const listed = [paymentAccount('alipay:transition-sync')];
    await fed.list(a, listed);
    await fed.waitForDecision(b, listed, 'deny');
    expect((await fed.signedFetch(a, CHECKPOINTS, { ...fed.asMember(b), authority: null })).status).toBe(200);
    expect((await fed.signedFetch(a, CHECKPOINTS, fed.asMember(b))).status).toBe(200);
    const elsewhere = await fed.signedFetch(a, CHECKPOINTS, { ...fed.asMember(b), authority: new URL(fed.association.url).host });
    expect(elsewhere.status).toBe(401);
    expect(await errorCode(elsewhere)).toBe('bad_signature');
  });
});
