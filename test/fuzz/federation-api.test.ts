/**
 * Fuzzing the federation API a node serves to its peers (src/federation/routes.ts, peer-auth.ts)
 * over hono's in-process `app.request()`, against a real node on a real SQLite file whose roster
 * lists the caller "beta" (active), "gamma" (suspended) and the association.
 *
 * - `http.federation`: requests correctly signed by an active member, with random and mutated
 *   paths (indices out of range, leading zeros, 2^53, percent-encoding, other origins) and bodies
 *   (notify with wrong types, broken JSON, deep nesting, oversized). Never a 5xx; nothing is ever
 *   written; a 200 holds exactly what the node stores (entries, and proofs that verify).
 * - `http.federation-headers`: a valid signed request, then one thing wrong with it: a changed
 *   byte in Signature-Input, Signature or Content-Digest, a header dropped or doubled, a key that
 *   is not a member, suspended or the node's own, the wrong key for a member id, a stale or
 *   future `created`, another path, method or body than the one signed, a replayed nonce, a
 *   signature for another node's authority (with that node's Host or this one's). Always 401,
 *   never a 5xx, nothing written, and no signature ever reaches the slow JavaScript verifier.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '../../src/crypto/encoding.js';
import { ed25519SlowVerifications } from '../../src/crypto/index.js';
import { signRequest } from '../../src/federation/request-signature.js';
import { openCheckpoint, logOrigin } from '../../src/log/checkpoint.js';
import { consistencyProof, inclusionProof, leafHash, rootFromLeafHashes, verifyConsistency, verifyInclusion } from '../../src/log/merkle.js';
import { checkRoster, signRoster, trustRootVerifierKey, type Roster } from '../../src/roster/index.js';
import { createTestNode, tempDir, type TestNode } from '../helpers/test-node.js';
import { listingBody, paymentAccount } from '../helpers/fixtures.js';
import { KEYS } from './arbitraries.js';
import { fuzzAsync } from './fuzz-config.js';
import { applyJsonMutation, contentType, dbCounts, garbageBody, jsonMutation } from './http-arbitraries.js';

const FEDERATION = 'jointban.example';
const ROOT = KEYS[0]!;
const BETA = KEYS[2]!;
const GAMMA = KEYS[3]!;
const LOG_SIZE = 7;
/** Every member's roster endpoint is http://127.0.0.1:9, so requests to alpha are signed for that. */
const ALPHA_AUTHORITY = '127.0.0.1:9';
const PAGE_SIZE = 4;

let t: TestNode;
let dir: string;
/** alpha's own log as stored: entry bytes, leaf 0 first. */
let entries: Uint8Array[] = [];
let leafHashes: Uint8Array[] = [];

const nowSeconds = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  dir = tempDir('jointban-fuzz-roster-');
  const rosterFile = join(dir, 'roster.note');
  t = await createTestNode({
    listen: false,
    extra: {
      roster: { trustRoot: trustRootVerifierKey(FEDERATION, ROOT.publicKey), file: rosterFile },
      sync: { pageSize: PAGE_SIZE },
      checkpoints: { intervalMs: 60_000, maxEntries: 1_000_000 },
      limits: { peerRatePerSecond: 1_000_000, peerBurst: 1_000_000 },
      logging: { level: 'silent' },
    },
  });
  const since = new Date(Date.now() - 86_400_000).toISOString();
  const member = (id: string, publicKey: Uint8Array, extra: Partial<Roster['members'][number]> = {}) => ({
    id,
    name: `Platform ${id}`,
    role: 'member' as const,
    publicKey: toBase64(publicKey),
    // Unreachable on purpose: the node's notifications to its peers fail fast and change nothing.
    endpoint: 'http://127.0.0.1:9',
    status: 'active' as const,
    since,
    ...extra,
  });
  const roster = checkRoster({
    federation: FEDERATION,
    version: 1,
    issuedAt: new Date().toISOString(),
    members: [
      member('alpha', t.node.identity.publicKey),
      member('assoc', ROOT.publicKey, { role: 'association' }),
      member('beta', BETA.publicKey),
      member('gamma', GAMMA.publicKey, { status: 'suspended', suspendedAt: since }),
    ],
  });
  if (!roster.ok) throw new Error(roster.error);
  writeFileSync(rosterFile, signRoster(roster.roster, ROOT.secretKey));
  await t.node.federation.roster.load();
  expect(t.node.federation.roster.current()?.members.map((m) => m.id)).toEqual(['alpha', 'assoc', 'beta', 'gamma']);

  const write = await t.key('write');
  for (let i = 0; i < LOG_SIZE; i++) {
    const res = await t.node.app.request('/v1/listings', {
      method: 'POST',
      headers: { authorization: `Bearer ${write}`, 'content-type': 'application/json' },
      body: JSON.stringify(listingBody({ identifiers: [paymentAccount(`alipay:federation-fuzz-${i}`)] })),
    });
    expect(res.status).toBe(201);
  }
  await t.node.federation.signer.flush();
  const rows = await t.node.database.db.selectFrom('log_entries').select(['bytes']).where('origin', '=', 'alpha').orderBy('seq').execute();
  entries = rows.map((r) => new Uint8Array(r.bytes));
  leafHashes = entries.map(leafHash);
  expect(entries).toHaveLength(LOG_SIZE);
});

afterAll(async () => {
  await t?.stop();
});

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | undefined;
}

/** Sends a request and checks what holds for every answer: no 5xx, nothing written, JSON errors. */
async function send(req: Sent): Promise<{ status: number; json: unknown }> {
  const before = await dbCounts(t.node.database.db);
  const res = await t.node.app.request(req.path, { method: req.method, headers: req.headers, ...(req.body !== undefined ? { body: req.body } : {}) });
  const text = await res.text();
  expect(res.status, `${req.method} ${req.path} → ${res.status} ${text.slice(0, 200)}`).toBeLessThan(500);
  expect(await dbCounts(t.node.database.db)).toEqual(before);
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  if (res.status >= 400 && req.method !== 'HEAD') expect(json).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
  return { status: res.status, json };
}

/** The path the server sees for a request target (what the signature must cover). */
const pathname = (target: string) => new URL(target, 'http://localhost').pathname;

function signed(
  method: string,
  target: string,
  body: Uint8Array,
  as: { keyId: string; secretKey: Uint8Array } = { keyId: 'beta', secretKey: BETA.secretKey },
  created = nowSeconds(),
  authority = ALPHA_AUTHORITY,
): Record<string, string> {
  return { ...signRequest({ method, path: pathname(target), authority, body, keyId: as.keyId, secretKey: as.secretKey, created }) };
}

const index = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: LOG_SIZE + 2 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('-1', '01', '1e3', '0x1', ' 1', '1.0', '9007199254740993', '9999999999999999', '99999999999999999', String(2 ** 53), '', '%31', 'NaN', 'Infinity') },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map(encodeURIComponent) },
);
const origin = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('alpha') },
  { weight: 1, arbitrary: fc.constantFrom('beta', 'gamma', 'assoc', 'zeta', 'ALPHA', 'a', '..', '%2e%2e', 'alpha%2F..', 'roster', 'x'.repeat(40)) },
);
const federationTarget = fc.oneof(
  fc.constant('/v1/federation/checkpoints'),
  fc.tuple(origin, index, index).map(([o, a, b]) => `/v1/federation/logs/${o}/entries/${a}/${b}`),
  fc.tuple(origin, index, index).map(([o, a, b]) => `/v1/federation/logs/${o}/consistency/${a}/${b}`),
  fc.tuple(origin, index, index).map(([o, a, b]) => `/v1/federation/logs/${o}/inclusion/${a}/${b}`),
  fc.constant('/v1/federation/notify'),
  fc.constantFrom(
    '/v1/federation/',
    '/v1/federation/logs',
    '/v1/federation/logs/alpha/entries/0',
    '/v1/federation/checkpoints/x',
    '/v1/federation/logs/alpha/entries/0/1/2',
    '/v1/federation/checkpoints?x=1',
  ),
  fc.webPath().map((p) => `/v1/federation${p.startsWith('/') ? p : `/${p}`}`),
);

const notifyBody = fc.oneof(
  { weight: 2, arbitrary: fc.record({ origin: fc.constantFrom('alpha', 'beta', 'gamma'), size: fc.nat(20) }).map((b) => JSON.stringify(b)) },
  { weight: 4, arbitrary: jsonMutation.map((m) => applyJsonMutation({ origin: 'beta', size: 3 }, m)) },
  { weight: 2, arbitrary: garbageBody },
);

const federationRequest = fc.record({
  target: federationTarget,
  method: fc.oneof({ weight: 8, arbitrary: fc.constant<string | undefined>(undefined) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') }),
  body: notifyBody,
  type: contentType,
});

/** A 200 holds exactly what the node stores; proofs verify against the node's own tree. */
function expectFaithful(path: string, json: unknown): void {
  const parts = path.split('/');
  if (path === '/v1/federation/checkpoints') {
    const list = (json as { checkpoints: { origin: string; note: string; size: number }[] }).checkpoints;
    const own = list.find((c) => c.origin === 'alpha');
    expect(own?.size).toBe(LOG_SIZE);
    const opened = openCheckpoint(own!.note, { name: logOrigin(FEDERATION, 'alpha'), publicKey: t.node.identity.publicKey });
    expect(opened.ok && Buffer.from(opened.checkpoint.root).equals(Buffer.from(rootFromLeafHashes(leafHashes)))).toBe(true);
    return;
  }
  const [a, b] = [Number(parts[6]), Number(parts[7])];
  if (parts[5] === 'entries') {
    const got = (json as { entries: string[] }).entries.map((e) => fromBase64(e)!);
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThanOrEqual(Math.min(b - a, PAGE_SIZE));
    got.forEach((bytes, i) => expect(Buffer.from(bytes).equals(Buffer.from(entries[a + i]!))).toBe(true));
  } else if (parts[5] === 'consistency') {
    const proof = (json as { proof: string[] }).proof.map((h) => fromBase64(h)!);
    expect(proof).toEqual(consistencyProof(leafHashes.slice(0, b), a));
    expect(verifyConsistency(a, b, rootFromLeafHashes(leafHashes.slice(0, a)), rootFromLeafHashes(leafHashes.slice(0, b)), proof)).toBe(true);
  } else if (parts[5] === 'inclusion') {
    const proof = (json as { proof: string[] }).proof.map((h) => fromBase64(h)!);
    expect(proof).toEqual(inclusionProof(leafHashes.slice(0, b), a));
    expect(verifyInclusion(leafHashes[a]!, a, b, proof, rootFromLeafHashes(leafHashes.slice(0, b)))).toBe(true);
  }
}

describe('federation API fuzzing', () => {
  it('http.federation: signed requests with random paths and bodies: never a 5xx, nothing written', async () => {
    const statuses = new Map<number, number>();
    await fuzzAsync(
      'http.federation',
      fc.asyncProperty(federationRequest, async (r) => {
        const isNotify = r.target === '/v1/federation/notify';
        const method = r.method ?? (isNotify ? 'POST' : 'GET');
        const body = method === 'GET' || method === 'HEAD' ? new Uint8Array(0) : typeof r.body === 'string' ? utf8(r.body) : r.body;
        const headers = signed(method, r.target, body);
        if (r.type !== undefined && body.length > 0) headers['content-type'] = r.type;
        const { status, json } = await send({ method, path: r.target, headers, body: body.length > 0 ? body : undefined });
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 200 && method === 'GET') expectFaithful(pathname(r.target), json);
        if (status === 202) {
          expect(json).toEqual({ status: 'accepted' });
          const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as { origin: unknown; size: unknown };
          expect(typeof parsed.origin === 'string' && Number.isSafeInteger(parsed.size)).toBe(true);
        }
      }),
    );
    console.log(`http.federation statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
    for (const expected of [200, 202, 400, 404]) expect(statuses.get(expected) ?? 0, `status ${expected}`).toBeGreaterThan(0);
  });

  type HeaderMutation =
    | { kind: 'byte'; header: 'signature-input' | 'signature' | 'content-digest'; at: number; char: number }
    | { kind: 'drop'; header: 'signature-input' | 'signature' | 'content-digest' }
    | { kind: 'double'; header: 'signature-input' | 'signature' | 'content-digest'; label: string }
    | { kind: 'random'; header: 'signature-input' | 'signature' | 'content-digest'; value: string }
    | { kind: 'signer'; who: 'gamma' | 'alpha' | 'outsider' | 'wrong-key' | 'no-such-id' }
    | { kind: 'created'; offset: number }
    | { kind: 'authority'; authority: string; host: boolean }
    | { kind: 'other-path' | 'other-method' | 'other-body' | 'replay' };

  const header = fc.constantFrom('signature-input' as const, 'signature' as const, 'content-digest' as const);
  const sfPiece = fc.oneof(
    fc.constantFrom(
      'jb=',
      'sig=',
      '(',
      ')',
      '"@method"',
      '"@path"',
      '"content-digest"',
      ';created=1',
      ';keyid="beta"',
      ';alg="ed25519"',
      ';nonce="x"',
      ';expires=1',
      ':',
      '::',
      '=',
      ',',
      ' ',
      'sha-256=',
      'sha-512=',
      'AAAA',
      '?1',
      '*',
    ),
    fc.string({ maxLength: 8 }),
  );
  const headerMutation: fc.Arbitrary<HeaderMutation> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('byte' as const), header, at: fc.nat(), char: fc.integer({ min: 0x20, max: 0x7e }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), header }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('double' as const), header, label: fc.constantFrom('jb', 'sig', 'sha-256') }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('random' as const),
        header,
        value: fc.array(sfPiece, { maxLength: 12 }).map((p) =>
          p
            .join('')
            .replace(/[^\x20-\x7e]/g, '')
            .trim(),
        ),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('signer' as const), who: fc.constantFrom('gamma' as const, 'alpha' as const, 'outsider' as const, 'wrong-key' as const, 'no-such-id' as const) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('created' as const), offset: fc.oneof(fc.integer({ min: 301, max: 10 ** 9 }), fc.integer({ min: -(10 ** 9), max: -301 })) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('other-path' as const, 'other-method' as const, 'other-body' as const, 'replay' as const) }) },
    // Signed for another node: a replay of a request meant for it, with its Host kept or not.
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('authority' as const), authority: fc.constantFrom('127.0.0.1:10', '127.0.0.1', 'jointban.beta.example', '127.0.0.1:90'), host: fc.boolean() }),
    },
  );
  const validTarget = fc.constantFrom(
    '/v1/federation/checkpoints',
    '/v1/federation/logs/alpha/entries/0/3',
    '/v1/federation/logs/alpha/consistency/2/5',
    '/v1/federation/logs/alpha/inclusion/1/6',
    '/v1/federation/notify',
  );

  it('http.federation-headers: one thing wrong with a signed request → 401, never a slow verification', async () => {
    const codes = new Map<string, number>();
    const slowBefore = ed25519SlowVerifications();
    await fuzzAsync(
      'http.federation-headers',
      fc.asyncProperty(validTarget, headerMutation, async (target, m) => {
        const method = target.endsWith('/notify') ? 'POST' : 'GET';
        const body = method === 'POST' ? utf8('{"origin":"beta","size":3}') : new Uint8Array(0);
        const signer = m.kind === 'signer' ? signerFor(m.who) : undefined;
        const created = m.kind === 'created' ? nowSeconds() + m.offset : nowSeconds();
        const authority = m.kind === 'authority' ? m.authority : ALPHA_AUTHORITY;
        const headers: Record<string, string> = { ...signed(method, target, body, signer, created, authority) };
        if (m.kind === 'authority' && m.host) headers.host = m.authority;
        if (method === 'POST') headers['content-type'] = 'application/json';
        let sent: Sent = { method, path: target, headers, body: body.length > 0 ? body : undefined };
        if (m.kind === 'byte') {
          const value = headers[m.header]!;
          const at = m.at % value.length;
          if (value.charCodeAt(at) === m.char) return;
          headers[m.header] = `${value.slice(0, at)}${String.fromCharCode(m.char)}${value.slice(at + 1)}`;
          // Leading and trailing spaces are not part of a field value: a space there changes nothing.
          if (headers[m.header]!.trim() === value) return;
        } else if (m.kind === 'drop') delete headers[m.header];
        else if (m.kind === 'double') headers[m.header] = `${headers[m.header]!}, ${m.label}=${headers[m.header]!.slice(headers[m.header]!.indexOf('=') + 1)}`;
        else if (m.kind === 'random') headers[m.header] = m.value;
        else if (m.kind === 'other-path')
          sent = {
            ...sent,
            path: /\/\d+$/.test(target)
              ? target.replace(/\/(\d+)$/, (_, n: string) => `/${Number(n) + 1}`)
              : target.endsWith('/notify')
                ? '/v1/federation/checkpoints'
                : '/v1/federation/logs/alpha/entries/0/1',
          };
        else if (m.kind === 'other-method') sent = method === 'GET' ? { ...sent, method: 'POST', body: utf8('{}') } : { ...sent, method: 'GET', body: undefined };
        else if (m.kind === 'other-body') sent = { ...sent, method: 'POST', body: utf8('{"origin":"beta","size":4}') };
        else if (m.kind === 'replay') {
          const first = await send(sent);
          expect(first.status).toBeLessThan(300);
        }
        const { status, json } = await send(sent);
        expect(status, `${m.kind} → ${JSON.stringify(json)}`).toBe(401);
        const code = (json as { error: { code: string } }).error.code;
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }),
    );
    console.log(`http.federation-headers refusals: ${JSON.stringify(Object.fromEntries(codes))}`);
    // Every refused signature was decided by OpenSSL: a junk signature costs no ~2 ms JavaScript check.
    expect(ed25519SlowVerifications()).toBe(slowBefore);
    for (const code of ['malformed_signature', 'bad_signature', 'bad_digest', 'unknown_key', 'stale', 'replayed', 'missing_signature', 'wrong_authority']) {
      expect(codes.get(code) ?? 0, `refusals with ${code}`).toBeGreaterThan(0);
    }
  });
});

function signerFor(who: 'gamma' | 'alpha' | 'outsider' | 'wrong-key' | 'no-such-id'): { keyId: string; secretKey: Uint8Array } {
  switch (who) {
    case 'gamma':
      return { keyId: 'gamma', secretKey: GAMMA.secretKey };
    case 'alpha':
      // The node's own key: a node refuses itself as a peer.
      return { keyId: 'alpha', secretKey: t.node.identity.secretKey };
    case 'outsider':
      return { keyId: 'outsider', secretKey: KEYS[7]!.secretKey };
    case 'wrong-key':
      return { keyId: 'beta', secretKey: KEYS[8]!.secretKey };
    case 'no-such-id':
      // A member's key under an id the roster does not hold.
      return { keyId: 'betaa', secretKey: BETA.secretKey };
  }
}
