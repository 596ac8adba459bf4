/**
 * A hostile member ("mallory", in the signed roster with its own key) answers the federation API
 * with responses no honest node sends, one kind per describe: a page larger than asked, an endless
 * or over-declared body, malformed JSON, 100,000 nested arrays, a body trickled one byte a second,
 * thousands of checkpoints, wrong types everywhere. Each time the honest nodes must fail the round
 * with a recorded error (`lastError` in GET /v1/federation/status, and `bad_response` misbehaviour
 * with short evidence for a non-conforming answer), store nothing of mallory's log, keep mallory's
 * identifiers out of the check index, keep answering /healthz and /v1/check, and keep receiving
 * honest listings. The limits under test are `sync.maxResponseBytes` and `sync.requestTimeoutMs`.
 *
 * One federation for the whole file (starting one costs seconds); mallory's behaviour is switched
 * per test, and each test waits for the evidence of its own case.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toBase64 } from '../../src/crypto/encoding.js';
import { encodeEntry } from '../../src/log/entry.js';
import { consistencyProof, leafHash } from '../../src/log/merkle.js';
import { addMember } from '../../src/roster/index.js';
import type { Misbehaviour } from '../../src/store/misbehaviour-repository.js';
import { fuzzAsync } from '../fuzz/fuzz-config.js';
import { places } from '../fuzz/http-arbitraries.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { paymentAccount, type Identifier } from '../helpers/fixtures.js';
import { craftListing, HostilePeer, type AdvertisedCheckpoint, type HostileRequest } from '../helpers/hostile-peer.js';

const MALLORY = 'mallory';
/** Small limits, so that the hostile bodies below exceed them quickly. */
const LIMITS = { requestTimeoutMs: 1_500, maxResponseBytes: 256 * 1024, pageSize: 2 };
const CHECKPOINTS = '/v1/federation/checkpoints';
const NESTING = 100_000;

let fed: TestFederation;
let mallory: HostilePeer;
let alpha: FedNode;
let beta: FedNode;
let labels = 0;

beforeAll(async () => {
  mallory = await HostilePeer.start(MALLORY);
  fed = await createFederation(2, {
    extra: {
      sync: LIMITS,
      // The cases below make many rounds quickly: not what the rate limits are about.
      limits: { peerRatePerSecond: 1_000_000, peerBurst: 1_000_000 },
    },
  });
  [alpha, beta] = fed.nodes as [FedNode, FedNode];
  await fed.updateRoster((draft, now) => {
    const added = addMember(draft, mallory.member, now);
    if (!added.ok) throw new Error(added.error);
    return added.draft;
  });
  for (const n of fed.all) expect(n.node.federation.roster.current()?.members.map((m) => m.id)).toContain(MALLORY);
});

afterAll(async () => {
  await fed?.stop();
  await mallory?.close();
});

/** Mallory serves nothing at all: no checkpoint, no log, no scripted answer. */
function quiet(): void {
  mallory.checkpoints = [];
  mallory.logs.clear();
  mallory.override = undefined;
}

beforeEach(quiet);

const ids = (label: string, n = 1): Identifier[] => Array.from({ length: n }, (_, i) => paymentAccount(`alipay:${label}-${++labels}-${i + 1}`));

/** Mallory's own log, one valid listing per identifier, served with a checkpoint it signs. */
function serveOwnLog(identifiers: Identifier[]): AdvertisedCheckpoint {
  const entries = identifiers.map((id, i) => craftListing(MALLORY, i + 1, fed.tokens([id])));
  return mallory.serveOwnLog(alpha.node.config.federation, entries);
}

/** Wakes every node's sync loop for mallory (a signed notify, as a peer with news would send). */
async function poke(): Promise<void> {
  for (const n of fed.running()) expect(await mallory.notify(n.url)).toBe(202);
}

async function peerStatus(node: FedNode) {
  const peer = (await fed.status(node)).peers.find((p) => p.member === MALLORY);
  if (!peer) throw new Error(`${node.member} has no sync state for ${MALLORY}`);
  return peer;
}

/** Waits for `node` to record `bad_response` from mallory whose evidence names `problem`; checks the evidence is short. */
async function expectBadResponse(node: FedNode, problem: RegExp, secret?: string): Promise<Misbehaviour> {
  const found = await waitFor(async () => (await fed.status(node)).misbehaviour.find((m) => m.kind === 'bad_response' && m.peer === MALLORY && problem.test(String(m.evidence['problem']))), {
    message: `${node.member} to record bad_response ${String(problem)} (mallory saw: ${mallory.requests.slice(-4).join(', ')})`,
  });
  const evidence = JSON.stringify(found.evidence);
  expect(evidence.length).toBeLessThan(1024);
  if (secret !== undefined) expect(evidence).not.toContain(secret);
  expect(found.evidence).toMatchObject({ request: expect.stringMatching(/^GET \/v1\/federation\//), problem: expect.any(String) });
  const row = await node.node.database.db.selectFrom('misbehaviour').selectAll().where('id', '=', found.id).executeTakeFirstOrThrow();
  expect(row).toMatchObject({ kind: 'bad_response', peer: MALLORY });
  // The round fails and says so in the status.
  await waitFor(async () => (await peerStatus(node)).lastError !== null, { message: `${node.member}'s sync status for ${MALLORY} to show an error` });
  return found;
}

/** Nothing of mallory's log is stored anywhere, and none of `identifiers` matches. */
async function expectNothingStored(identifiers: Identifier[]): Promise<void> {
  for (const n of fed.all) expect(await fed.logSize(n, MALLORY)).toBe(0);
  for (const n of [alpha, beta]) {
    const result = await fed.check(n, identifiers);
    expect(result.decision).toBe('allow');
    expect(result.matches).toEqual([]);
  }
}

/** The node still answers its platform: liveness and a check. */
async function expectServing(node: FedNode): Promise<void> {
  const health = await fetch(`${node.url}/healthz`);
  expect(health.status).toBe(200);
  expect(((await health.json()) as { status: string }).status).toBe('ok');
  expect((await fed.check(node, ids('probe'))).decision).toBe('allow');
}

/** An honest listing made now on alpha reaches beta despite mallory. */
async function expectHonestPropagation(): Promise<void> {
  const honest = ids('honest');
  const listed = await fed.list(alpha, honest);
  await fed.waitForDecision(beta, honest, 'deny');
  expect((await fed.check(beta, honest)).matches).toEqual([expect.objectContaining({ listingId: listed.id })]);
}

const isEntries = (req: HostileRequest) => req.method === 'GET' && /^\/v1\/federation\/logs\/mallory\/entries\//.test(req.path);
const isCheckpoints = (req: HostileRequest) => req.method === 'GET' && req.path === CHECKPOINTS;
const isConsistency = (req: HostileRequest) => req.method === 'GET' && /^\/v1\/federation\/logs\/mallory\/consistency\//.test(req.path);

describe('a page larger than asked', () => {
  it('is rejected as bad_response; no entry of it is stored', async () => {
    const listed = ids('oversized-page', 3);
    serveOwnLog(listed);
    const log = mallory.logs.get(MALLORY)!;
    const extra = ids('oversized-extra', 2).map((id, i) => encodeEntry(craftListing(MALLORY, 4 + i, fed.tokens([id]))));
    // Asked for leaves 0-2 (sync.pageSize 2): the whole log and two more entries come back.
    mallory.override = (req) => (isEntries(req) ? HostilePeer.rawJson(JSON.stringify({ origin: MALLORY, start: 0, entries: [...log.entries, ...extra].map(toBase64) })) : undefined);
    await poke();

    const found = await expectBadResponse(beta, /expected 1 to 2 entries/);
    expect(found.evidence['request']).toBe('GET /v1/federation/logs/mallory/entries/0/2');
    expect((await peerStatus(beta)).lastError).toContain('bad_response');
    await expectNothingStored(listed);
    await expectServing(beta);
    await expectHonestPropagation();
  });
});

describe('an endless page', () => {
  it('is cut at sync.maxResponseBytes and recorded as bad_response', async () => {
    const listed = ids('endless', 3);
    serveOwnLog(listed);
    const cancelled = mallory.cancelledStreams;
    mallory.override = (req) => (isEntries(req) ? mallory.streamResponse({ prefix: `{"origin":"${MALLORY}","start":0,"entries":["`, chunk: 'QUFB'.repeat(16 * 1024) }) : undefined);
    await poke();

    await expectBadResponse(beta, new RegExp(`exceeds the ${LIMITS.maxResponseBytes}-byte limit`));
    // The node stopped reading and closed the connection: the body was not read to its (absent) end.
    await waitFor(() => mallory.cancelledStreams > cancelled, { message: 'a node to cancel the endless body' });
    await expectNothingStored(listed);
    await expectServing(beta);
    await expectHonestPropagation();
    // Stop the bodies without serving the log honestly now: it must never be stored.
    quiet();
    await waitFor(() => mallory.openStreams === 0, { message: 'every endless body to be closed by the nodes' });
  });

  it('is refused unread when it declares a length over the limit', async () => {
    const declared = String(LIMITS.maxResponseBytes * 64);
    mallory.override = (req) => (isCheckpoints(req) ? mallory.streamResponse({ prefix: '{"checkpoints":[', chunk: ' '.repeat(1024), headers: { 'content-length': declared } }) : undefined);
    await poke();

    const found = await expectBadResponse(beta, new RegExp(`response of ${declared} bytes exceeds the ${LIMITS.maxResponseBytes}-byte limit`));
    expect(found.evidence['request']).toBe(`GET ${CHECKPOINTS}`);
    expect((await peerStatus(beta)).lastError).toContain('byte limit');
    await expectServing(beta);
    await expectHonestPropagation();
    // Stop the bodies without serving the log honestly now: it must never be stored.
    quiet();
    await waitFor(() => mallory.openStreams === 0, { message: 'every over-declared body to be closed by the nodes' });
  });
});

describe('malformed JSON', () => {
  it('is rejected as bad_response, with evidence that does not repeat the body', async () => {
    const secret = 'MALFORMED-BODY-MARKER';
    mallory.override = (req) => (isCheckpoints(req) ? HostilePeer.rawJson(`{"checkpoints":[{"origin":"alpha","size":1,"note":"${secret}`) : undefined);
    await poke();

    await expectBadResponse(beta, /response is not JSON/, secret);
    expect((await peerStatus(beta)).lastError).toContain('not JSON');
    await expectServing(beta);
    await expectHonestPropagation();
  });
});

describe('an error status with a body that is not JSON', () => {
  it('is an HTTP failure, not misbehaviour: a proxy in front of an honest node answers like this', async () => {
    const before = (await fed.status(beta)).misbehaviour.length;
    mallory.override = (req) => (isCheckpoints(req) ? new Response('<html><body>502 Bad Gateway</body></html>', { status: 502, headers: { 'content-type': 'text/html' } }) : undefined);
    await poke();
    await waitFor(async () => (await peerStatus(beta)).lastError?.includes(`GET ${CHECKPOINTS}: HTTP 502`), { message: `beta's round against ${MALLORY} to fail with HTTP 502` });
    expect((await fed.status(beta)).misbehaviour.length).toBe(before);
    await expectServing(beta);
  });
});

describe('the token epochs a peer names (held-epochs.ts)', () => {
  it('are recorded as named, and a malformed list is bad_response that fails the round', async () => {
    mallory.override = (req) => (isCheckpoints(req) ? HostilePeer.rawJson(JSON.stringify({ checkpoints: [], epochs: [1, 7] })) : undefined);
    await poke();
    await waitFor(async () => (await fed.status(beta)).epochs.members.find((m) => m.member === MALLORY)?.held?.join() === '1,7', { message: `beta to record the epochs ${MALLORY} names` });
    expect((await fed.status(beta)).epochs.members.find((m) => m.member === MALLORY)).toEqual({ member: MALLORY, held: [1, 7], missing: [], extra: [7] });

    mallory.override = (req) => (isCheckpoints(req) ? HostilePeer.rawJson(JSON.stringify({ checkpoints: [], epochs: [7, 1] })) : undefined);
    await poke();
    await expectBadResponse(beta, /epochs must be in ascending order/);
    await expectServing(beta);
  });
});

describe('deeply nested JSON: 100,000 nested arrays', () => {
  const nested = (inner = '') => `${'['.repeat(NESTING)}${inner}${']'.repeat(NESTING)}`;

  it('as the checkpoint list is rejected as bad_response, and nothing recurses without bound', async () => {
    mallory.override = (req) => (isCheckpoints(req) ? HostilePeer.rawJson(nested()) : undefined);
    await poke();
    await expectBadResponse(beta, /checkpoint list is malformed/);
    await expectServing(beta);

    mallory.override = (req) => (isCheckpoints(req) ? HostilePeer.rawJson(`{"checkpoints":${nested()}}`) : undefined);
    await poke();
    await expectBadResponse(beta, /checkpoint list item 0 is malformed/);
    await expectServing(beta);
    await expectHonestPropagation();
  });

  it('as a page of entries or a consistency proof is rejected as bad_response', async () => {
    const listed = ids('nested', 3);
    serveOwnLog(listed);
    mallory.override = (req) => (isEntries(req) ? HostilePeer.rawJson(`{"origin":"${MALLORY}","start":0,"entries":${nested()}}`) : undefined);
    await poke();
    await expectBadResponse(beta, /entry 0 is not base64/);

    // Honest pages, but the proof that the first page belongs to the signed tree is 100,000 arrays deep.
    mallory.override = (req) => (isConsistency(req) ? HostilePeer.rawJson(`{"proof":${nested()}}`) : undefined);
    await poke();
    const found = await expectBadResponse(beta, /expected \{"proof"/);
    expect(found.evidence['request']).toBe('GET /v1/federation/logs/mallory/consistency/2/3');
    await expectNothingStored(listed);
    await expectServing(beta);
    await expectHonestPropagation();
  });
});

describe('a trickling response: one byte a second (slowloris)', () => {
  it('is cut by sync.requestTimeoutMs over the whole body, while the node keeps serving', async () => {
    const misbehaviourBefore = (await fed.status(beta)).misbehaviour.length;
    const cancelled = mallory.cancelledStreams;
    mallory.maxOpenStreams = mallory.openStreams;
    // Headers and the first bytes at once: only a timeout over the whole answer stops this.
    mallory.override = (req) => (isCheckpoints(req) ? mallory.streamResponse({ prefix: '{"checkpoints":[', chunk: ' ', intervalMs: 1_000 }) : undefined);
    await poke();

    await waitFor(() => mallory.openStreams > 0, { message: 'a node to start reading the trickle' });
    // While a trickle is being read, the node answers its platform and takes honest data.
    await expectServing(beta);
    await expectHonestPropagation();

    const status = await waitFor(
      async () => {
        const peer = await peerStatus(beta);
        return peer.lastError?.includes(`did not arrive within ${LIMITS.requestTimeoutMs} ms`) ? peer : undefined;
      },
      { message: `beta's round against ${MALLORY} to end at the request timeout` },
    );
    expect(status.lastError).toContain(`GET ${CHECKPOINTS}`);
    expect(status.consecutiveFailures).toBeGreaterThan(0);
    await waitFor(() => mallory.cancelledStreams > cancelled, { message: 'a node to close a trickling connection' });
    // Slowness is not proof of misbehaviour (an honest node can be slow): nothing is recorded.
    expect((await fed.status(beta)).misbehaviour.length).toBe(misbehaviourBefore);

    // Stop the bodies without serving the log honestly now: it must never be stored.
    quiet();
    await waitFor(() => mallory.openStreams === 0, { message: 'every trickling connection to be closed by the nodes' });
    // One request at a time per node: the connections mallory can hold open are bounded by the nodes.
    expect(mallory.maxOpenStreams).toBeLessThanOrEqual(fed.all.length);
    await expectServing(beta);
  });

  it('of a page of entries is cut the same way; nothing of it is stored', async () => {
    const listed = ids('trickle', 3);
    serveOwnLog(listed);
    const cancelled = mallory.cancelledStreams;
    mallory.override = (req) => (isEntries(req) ? mallory.streamResponse({ prefix: `{"origin":"${MALLORY}","start":0,"entries":["`, chunk: 'Q', intervalMs: 1_000 }) : undefined);
    await poke();

    await waitFor(async () => (await peerStatus(beta)).lastError?.includes(`/entries/0/2: the whole answer did not arrive within ${LIMITS.requestTimeoutMs} ms`), {
      message: `beta's round against ${MALLORY} to end at the request timeout`,
    });
    await waitFor(() => mallory.cancelledStreams > cancelled, { message: 'a node to close a trickling connection' });
    await expectNothingStored(listed);
    // Stop the bodies without serving the log honestly now: it must never be stored.
    quiet();
    await waitFor(() => mallory.openStreams === 0, { message: 'every trickling connection to be closed by the nodes' });
  });
});

describe('checkpoint lists with thousands of items', () => {
  it('over the list limit are rejected as bad_response before any signature is checked', async () => {
    const items = Array.from({ length: 5_000 }, (_, i) => ({ origin: `member-${i}`, size: 1, note: 'x' }));
    mallory.override = (req) => (isCheckpoints(req) ? HostilePeer.rawJson(JSON.stringify({ checkpoints: items })) : undefined);
    await poke();
    await expectBadResponse(beta, /more than 1000 items/);
    await expectServing(beta);
  });

  it('naming one origin hundreds of times are rejected as bad_response, not checked hundreds of times', async () => {
    const cp = serveOwnLog(ids('repeated', 1));
    const seen = mallory.requests.length;
    const items = Array.from({ length: 500 }, () => cp);
    mallory.override = (req) => (isCheckpoints(req) ? HostilePeer.rawJson(JSON.stringify({ checkpoints: items })) : undefined);
    await poke();
    await expectBadResponse(beta, /names mallory twice/);
    expect(mallory.requests.slice(seen).filter((r) => r.includes('/entries/'))).toEqual([]);
    await expectServing(beta);
    await expectHonestPropagation();
  });
});

describe('wrong types everywhere', () => {
  /** One field of a well-formed answer replaced by a value of the wrong type, or the answer's text broken. */
  type Mutation = { target: 'checkpoints' | 'entries' | 'consistency'; pick: number; op: 'replace' | 'delete' | 'duplicate' | 'text'; value: unknown; cut: number };

  const wrongValue = fc.oneof(
    fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 60), '', 'x', '0', 'AAAA', [], {}, [[]], { proof: [] }, '\u0000', '\ud800'),
    fc.string({ maxLength: 40 }),
    fc.integer(),
    fc.double(),
    fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null)), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxKeys: 3 }),
    fc.integer({ min: 1, max: 2_000 }).map((depth) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown),
  );
  const mutation: fc.Arbitrary<Mutation> = fc.record({
    target: fc.constantFrom('checkpoints', 'entries', 'consistency'),
    pick: fc.nat(),
    op: fc.constantFrom('replace', 'replace', 'replace', 'delete', 'duplicate', 'text'),
    value: wrongValue,
    cut: fc.nat(),
  });

  function mutate(honest: unknown, m: Mutation): string {
    if (m.op === 'text') {
      const text = JSON.stringify(honest);
      const at = m.cut % (text.length + 1);
      return text.slice(0, at) + (typeof m.value === 'string' ? m.value : '"') + text.slice(at + 1);
    }
    const copy = JSON.parse(JSON.stringify(honest)) as unknown;
    const all = places(copy);
    const [container, key] = all[m.pick % all.length]!;
    if (container === undefined || key === undefined) return JSON.stringify(m.op === 'duplicate' ? [copy, copy] : m.value);
    if (Array.isArray(container) && typeof key === 'number') {
      if (m.op === 'delete') container.splice(key, 1);
      else if (m.op === 'duplicate') container.splice(key, 0, container[key]);
      else container[key] = m.value;
    } else if (!Array.isArray(container)) {
      if (m.op === 'delete') delete container[key];
      else if (m.op === 'duplicate') container[`${key}`] = [container[key], container[key]];
      else container[key] = m.value;
    }
    return JSON.stringify(copy);
  }

  /** What an honest node would answer `req` with, from mallory's current log. */
  function honestAnswer(req: HostileRequest): unknown {
    const log = mallory.logs.get(MALLORY)!;
    const parts = req.path.split('/');
    if (isCheckpoints(req)) return { checkpoints: mallory.checkpoints };
    const [a, b] = [Number(parts[6]), Number(parts[7])];
    if (isEntries(req)) return { origin: MALLORY, start: a, entries: log.entries.slice(a, b).map(toBase64) };
    return { proof: consistencyProof(log.entries.slice(0, b).map(leafHash), a).map(toBase64) };
  }

  it('hostile-peer.wrong-types: in checkpoint lists, pages and proofs, every round fails or stores only mallory’s valid signed entries', async () => {
    for (const n of fed.all) expect(await fed.logSize(n, MALLORY)).toBe(0);
    const validEntries: Uint8Array[] = [];
    const signedNotes = new Set<string>();
    const outcomes = { failed: 0, completed: 0 };
    await fuzzAsync(
      'hostile-peer.wrong-types',
      fc.asyncProperty(mutation, async (m) => {
        // Grow mallory's valid log whenever beta has caught up, so that every round has pages to fetch.
        const held = await fed.logSize(beta, MALLORY);
        if (held === validEntries.length) {
          for (let i = 0; i < 3; i++) {
            const seq = validEntries.length + 1;
            validEntries.push(encodeEntry(craftListing(MALLORY, seq, fed.tokens(ids('typed')))));
          }
          const cp = mallory.signCheckpointFor(alpha.node.config.federation, MALLORY, validEntries);
          mallory.logs.set(MALLORY, { entries: [...validEntries] });
          mallory.checkpoints = [cp];
          signedNotes.add(cp.note);
        }
        const matches = { checkpoints: isCheckpoints, entries: isEntries, consistency: isConsistency }[m.target];
        mallory.override = (req) => (matches(req) ? HostilePeer.rawJson(mutate(honestAnswer(req), m)) : undefined);
        try {
          await beta.node.federation.sync.syncOnce(MALLORY);
          outcomes.completed += 1;
        } catch {
          outcomes.failed += 1;
        }
        // Whatever was stored is a prefix of mallory's valid signed log, with one of its signed checkpoints.
        const rows = await beta.node.database.db.selectFrom('log_entries').select(['seq', 'bytes']).where('origin', '=', MALLORY).orderBy('seq').execute();
        rows.forEach((r, i) => {
          expect(r.seq).toBe(i + 1);
          expect(Buffer.from(r.bytes).equals(Buffer.from(validEntries[i]!))).toBe(true);
        });
        const cps = await beta.node.database.db.selectFrom('checkpoints').select(['note', 'size']).where('origin', '=', MALLORY).execute();
        for (const cp of cps) expect([...signedNotes].some((note) => cp.note.startsWith(note.slice(0, note.indexOf('\n\n'))))).toBe(true);
        const health = await beta.node.app.request('/healthz');
        expect(health.status).toBe(200);
      }),
    );
    quiet();
    // Mutations that break nothing (an unread field) let a round complete: both outcomes occur.
    expect(outcomes.failed).toBeGreaterThan(0);
    const kinds = new Set((await fed.status(beta)).misbehaviour.filter((x) => x.peer === MALLORY).map((x) => x.kind));
    expect(kinds).toContain('bad_response');
    await expectServing(beta);
    await expectHonestPropagation();
  });
});
