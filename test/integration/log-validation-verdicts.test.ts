/**
 * Sync ingest and `jointban verify` judge a log by the same rules (src/log/validate.ts) and must
 * give the same verdict on the same entries. A hostile member ("mallory") relays the logs of
 * several members whose keys the test holds, each log valid but for one entry that breaks one rule:
 * a wrong seq, a foreign origin, a suspended member's entry, a retraction of a later entry, a
 * retraction of a retraction (across a page and within one), malformed bytes. A real node pulls
 * them over HTTP (pages of two entries, so retraction targets are looked up in the store as well as
 * in the page), records each bad entry as misbehaviour and stores the entries before it. Then the
 * rest of each log is written to its store as a node that accepted everything would have, and the
 * real `jointban verify` command must report, for each log, as its first failure the same kind, at
 * the same index, with the same message as the ingest recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OriginVerification } from '../../src/audit/verify.js';
import { loadConfig } from '../../src/config/load.js';
import { toBase64, utf8 } from '../../src/crypto/encoding.js';
import { generateEd25519KeyPair, type Ed25519KeyPair } from '../../src/crypto/index.js';
import { logOrigin, signCheckpoint } from '../../src/log/checkpoint.js';
import { decodeEntry, encodeEntry, type LogEntry, type RetractionEntry } from '../../src/log/entry.js';
import { leafHash, rootFromLeafHashes } from '../../src/log/merkle.js';
import { checkLogEntry } from '../../src/log/validate.js';
import { addMember, suspendMember, type Roster } from '../../src/roster/index.js';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import { openDatabase } from '../../src/store/database.js';
import { ListingWriter } from '../../src/store/listing-repository.js';
import { LogWriter } from '../../src/store/log-repository.js';
import { runCli } from '../helpers/cli.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { paymentAccount } from '../helpers/fixtures.js';
import { craftListing, HostilePeer } from '../helpers/hostile-peer.js';

const MALLORY = 'mallory';
const MINUTE = 60_000;

/** One relayed log: its entries' bytes, and the verdict both sides must give (none: it is valid). */
interface Case {
  origin: string;
  /** Builds the log once the roster's time is known (the suspension is at that time). */
  build: (at: Date) => Uint8Array[];
  verdict?: { kind: string; index: number; message: RegExp };
}

let fed: TestFederation;
let mallory: HostilePeer;
let alpha: FedNode;
let suspendedAt: Date;
let federation: string;
const keys = new Map<string, Ed25519KeyPair>();
const logs = new Map<string, Uint8Array[]>();
/** What alpha recorded per origin: the ingest's verdict. */
const recorded = new Map<string, { kind: string; index: number; message: string }>();
/** How many entries of each log alpha held after the ingest. */
const storedByIngest = new Map<string, number>();
let verified: OriginVerification[];
let labels = 0;

const tokens = () => fed.tokens([paymentAccount(`alipay:verdict-${++labels}`)]);
/** A listing of `origin` at `seq`, dated `minutes` from `at`. */
const listingAt = (origin: string, seq: number, at: Date, minutes = -60 + seq): LogEntry => craftListing(origin, seq, tokens(), new Date(at.getTime() + minutes * MINUTE));
const retractionAt = (origin: string, seq: number, target: number, at: Date): RetractionEntry => ({
  v: 1,
  kind: 'retraction',
  origin,
  seq,
  time: new Date(at.getTime() + (-60 + seq) * MINUTE).toISOString(),
  target,
  reason: 'appeal_upheld',
});
const bytesOf = (entries: LogEntry[]): Uint8Array[] => entries.map(encodeEntry);

const CASES: Case[] = [
  {
    // Valid: the retraction's target lies on an earlier page, looked up in the store.
    origin: 'v-ok',
    build: (at) => bytesOf([listingAt('v-ok', 1, at), listingAt('v-ok', 2, at), listingAt('v-ok', 3, at), retractionAt('v-ok', 4, 1, at)]),
  },
  {
    origin: 'v-seq',
    build: (at) => bytesOf([listingAt('v-seq', 1, at), listingAt('v-seq', 3, at)]),
    verdict: { kind: 'bad_entry', index: 1, message: /^entry 1 of v-seq has seq 3, expected 2$/ },
  },
  {
    origin: 'v-foreign',
    build: (at) => bytesOf([listingAt('v-foreign', 1, at), listingAt('alpha', 2, at)]),
    verdict: { kind: 'foreign_origin', index: 1, message: /^entry 1 of v-foreign's log claims origin alpha$/ },
  },
  {
    // Suspended at the roster's time: the entry before stays valid, the one after is refused.
    origin: 'v-susp',
    build: (at) => bytesOf([listingAt('v-susp', 1, at, -1), listingAt('v-susp', 2, at, 1)]),
    verdict: { kind: 'suspended_member', index: 1, message: /^entry 1 of v-susp is dated .*, at or after its suspension$/ },
  },
  {
    // No encoder writes it: the canonical text of a retraction of a later entry, by hand.
    origin: 'v-later',
    build: (at) => [
      encodeEntry(listingAt('v-later', 1, at)),
      utf8(`{"kind":"retraction","origin":"v-later","reason":"appeal_upheld","seq":2,"target":3,"time":"${new Date(at.getTime() - 30 * MINUTE).toISOString()}","v":1}`),
    ],
    verdict: { kind: 'bad_entry', index: 1, message: /^entry 1 of v-later is malformed: target must be the seq of an earlier entry$/ },
  },
  {
    // The retraction retracted is on the page before (pages of two): looked up in the store.
    origin: 'v-rr-store',
    build: (at) => bytesOf([listingAt('v-rr-store', 1, at), retractionAt('v-rr-store', 2, 1, at), retractionAt('v-rr-store', 3, 2, at)]),
    verdict: { kind: 'bad_entry', index: 2, message: /^retraction 2 of v-rr-store targets seq 2, which is not a listing$/ },
  },
  {
    // The retraction retracted is on the same page.
    origin: 'v-rr-page',
    build: (at) => bytesOf([listingAt('v-rr-page', 1, at), listingAt('v-rr-page', 2, at), retractionAt('v-rr-page', 3, 1, at), retractionAt('v-rr-page', 4, 3, at)]),
    verdict: { kind: 'bad_entry', index: 3, message: /^retraction 3 of v-rr-page targets seq 3, which is not a listing$/ },
  },
  {
    // Valid JSON, but not the canonical bytes of the entry (a space after the first comma).
    origin: 'v-malformed',
    build: (at) => [encodeEntry(listingAt('v-malformed', 1, at)), utf8(new TextDecoder().decode(encodeEntry(listingAt('v-malformed', 2, at))).replace(',', ', '))],
    verdict: { kind: 'bad_entry', index: 1, message: /^entry 1 of v-malformed is malformed: entry is not in canonical form/ },
  },
];

/** A member not in the roster: its log is ignored by sync (no key to verify it) and reported by verify. */
const UNKNOWN = 'v-gone';

function signed(origin: string, entries: Uint8Array[]): { origin: string; size: number; note: string } {
  const name = logOrigin(federation, origin);
  const root = rootFromLeafHashes(entries.map(leafHash));
  return { origin, size: entries.length, note: signCheckpoint({ origin: name, size: entries.length, root }, { name, secretKey: keys.get(origin)!.secretKey }) };
}

beforeAll(async () => {
  mallory = await HostilePeer.start(MALLORY);
  fed = await createFederation(1, { extra: { sync: { pageSize: 2 } } });
  alpha = fed.nodes[0]!;
  federation = alpha.node.config.federation;
  for (const origin of [...CASES.map((c) => c.origin), UNKNOWN]) keys.set(origin, generateEd25519KeyPair());
  await fed.updateRoster((draft, now) => {
    let added = addMember(draft, mallory.member, now);
    for (const c of CASES) {
      if (!added.ok) break;
      // Never reached: sync pulls these logs from mallory only.
      added = addMember(added.draft, { id: c.origin, name: c.origin, publicKey: toBase64(keys.get(c.origin)!.publicKey), endpoint: `https://${c.origin}.test.example` }, now);
    }
    const suspended = added.ok ? suspendMember(added.draft, 'v-susp', now) : added;
    if (!suspended.ok) throw new Error(suspended.error);
    suspendedAt = new Date(now);
    return suspended.draft;
  });
  await waitFor(() => alpha.node.federation.roster.current()?.members.some((m) => m.id === 'v-susp' && m.status === 'suspended'), { message: 'alpha to hold the roster' });

  for (const c of CASES) logs.set(c.origin, c.build(suspendedAt));
  logs.set(UNKNOWN, bytesOf([listingAt(UNKNOWN, 1, suspendedAt)]));
  for (const [origin, entries] of logs) mallory.logs.set(origin, { entries });
  mallory.checkpoints = [...logs].map(([origin, entries]) => signed(origin, entries));
  await mallory.notify(alpha.url, 'v-ok', 4);

  // The ingest's verdicts: a misbehaviour record per bad log, the valid log in full.
  await waitFor(
    async () => {
      const rows = await alpha.node.database.db.selectFrom('misbehaviour').selectAll().where('peer', '=', MALLORY).execute();
      for (const row of rows) {
        const evidence = JSON.parse(row.evidence) as { index?: number };
        if (evidence.index !== undefined) recorded.set(row.origin, { kind: row.kind, index: evidence.index, message: row.message });
      }
      return CASES.every((c) => c.verdict === undefined || recorded.has(c.origin)) && (await fed.logSize(alpha, 'v-ok')) === 4;
    },
    { message: 'alpha to record a misbehaviour for every bad relayed log and to hold the valid one', timeoutMs: 20_000 },
  );
  for (const origin of logs.keys()) storedByIngest.set(origin, await fed.logSize(alpha, origin));

  // The rest of each bad log, as a node that accepted everything would hold it, with the signed checkpoint.
  await fed.stopNode(alpha);
  const handle = await openDatabase(loadConfig(alpha.dataDir, {}).database);
  try {
    for (const [origin, entries] of logs) {
      const held = storedByIngest.get(origin)!;
      if (held === entries.length) continue;
      await handle.db.transaction().execute(async (trx) => {
        const rest = entries.slice(held).map((bytes, i) => ({ bytes, seq: held + i + 1, decoded: decodeEntry(bytes) }));
        await new LogWriter(trx).append(
          origin,
          rest.map(({ bytes, seq, decoded }) => ({ seq, bytes, kind: decoded.ok ? decoded.entry.kind : 'listing', time: decoded.ok ? decoded.entry.time : suspendedAt.toISOString() })),
        );
        const listings = new ListingWriter(trx);
        for (const { decoded } of rest) if (decoded.ok && decoded.entry.kind === 'listing' && decoded.entry.origin === origin) await listings.insertListing(decoded.entry, null);
      });
      const cp = signed(origin, entries);
      await new CheckpointRepository(handle.db).insert({ origin, size: cp.size, root: rootFromLeafHashes(entries.map(leafHash)), note: cp.note }, new Date().toISOString());
    }
  } finally {
    await handle.close();
  }
  const result = await runCli(['verify', '--data-dir', alpha.dataDir, '--json']);
  if (!result.stdout.startsWith('{')) throw new Error(`jointban verify exited ${String(result.code)}: ${result.stderr}`);
  verified = (JSON.parse(result.stdout) as { origins: OriginVerification[] }).origins;
}, 90_000);

afterAll(async () => {
  await fed?.stop();
  await mallory?.close();
});

const verdictOf = (origin: string) => {
  const found = verified.find((r) => r.origin === origin);
  if (!found) throw new Error(`jointban verify reported nothing about ${origin}`);
  return found;
};

describe('the same bad entries, ingested from a hostile peer and verified in a store', () => {
  for (const c of CASES.filter((c) => c.verdict !== undefined)) {
    it(`${c.origin}: ${c.verdict!.kind} at index ${c.verdict!.index}, from ingest and from verify alike`, async () => {
      const ingest = recorded.get(c.origin)!;
      expect(ingest.kind).toBe(c.verdict!.kind);
      expect(ingest.index).toBe(c.verdict!.index);
      expect(ingest.message).toMatch(c.verdict!.message);
      // The entries before the bad one were stored by the ingest, nothing from it on.
      expect(storedByIngest.get(c.origin)).toBe(c.verdict!.index);
      const report = verdictOf(c.origin);
      expect(report.ok).toBe(false);
      expect(report.failures[0]).toEqual({ kind: ingest.kind, index: ingest.index, message: ingest.message });
    });
  }

  it('v-ok: a retraction of a listing on an earlier page is stored by the ingest and verifies', () => {
    expect(recorded.has('v-ok')).toBe(false);
    expect(verdictOf('v-ok')).toMatchObject({ ok: true, entries: 4, failures: [] });
  });
});

describe('an origin not in the roster', () => {
  it('is ignored by sync (nothing stored, nothing recorded), reported once by verify, and unknown to the rules', () => {
    expect(recorded.has(UNKNOWN)).toBe(false);
    expect(storedByIngest.get(UNKNOWN)).toBe(0);
    expect(verdictOf(UNKNOWN).failures).toEqual([{ kind: 'unknown_member', message: expect.stringContaining('is not in the roster') }]);
    const roster = (fed.association.node.federation.roster.current() as Roster | undefined)!;
    const entry = decodeEntry(logs.get(UNKNOWN)![0]!);
    if (!entry.ok) throw new Error(entry.error);
    expect(checkLogEntry({ origin: UNKNOWN, roster, earlier: { isListing: () => false } }, 0, entry.entry)).toEqual({ code: 'unknown_member' });
  });
});
