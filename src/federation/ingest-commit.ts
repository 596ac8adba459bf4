/**
 * One page of a mirrored log from the peer's raw answer to committed rows, on whichever thread
 * does it: the node's main thread (`inProcessPipeline`) or the ingest worker
 * (ingest-commit-worker.ts, through worker-committer.ts) over a connection of its own. Both run the
 * same functions here, so the rows and verdicts are the same either way
 * (test/integration/ingest-commit-worker.test.ts compares them).
 *
 * A page goes through three steps. `prepare` parses the answer (peer data: shape, strict base64,
 * entry count), hashes each entry's leaf, decodes every entry and checks it by the rules of a log
 * that append and `jointban verify` apply too (log/validate.ts; docs/PROTOCOL.md, "Validity of an
 * entry in a log"), and holds the page;
 * it answers only the leaf hashes and the verdict. The caller proves the leaves against the signed
 * root (ingest.ts), then `commit`s prefixes of the held page in slices, and `release`s it. Parsing a
 * page of thousands of entries, their base64, their hashes and their JSON is most of a sync's work:
 * on the main thread it held every check behind it (docs/BENCHMARKS.md, "Checks during a large
 * sync"), so on the worker the main thread keeps only the tree arithmetic and the HTTP.
 *
 * Nothing here holds a key: a checkpoint note arrives already cosigned where this node is the
 * witness.
 */
import type { Kysely } from 'kysely';
import { fromBase64, toBase64 } from '../crypto/encoding.js';
import { decodeEntry, type ListingEntry, type LogEntry } from '../log/entry.js';
import { leafHash } from '../log/merkle.js';
import { checkRun, describeFailure, failureKind, targetsBefore, type EntryFailure } from '../log/validate.js';
import type { Roster } from '../roster/index.js';
import { CheckpointRepository } from '../store/checkpoint-repository.js';
import { bulkAppendOf } from '../store/database.js';
import { ListingWriter } from '../store/listing-repository.js';
import { LogReader, LogWriter } from '../store/log-repository.js';
import type { MisbehaviourKind } from '../store/misbehaviour-repository.js';
import type { Database } from '../store/tables.js';

export interface ProvenSlice {
  origin: string;
  entries: { entry: LogEntry; bytes: Uint8Array; leafHash: Uint8Array }[];
  /** The checkpoint the slice completes (the last slice of the signed tree), note as it is to be stored. */
  checkpoint?: { size: number; root: Uint8Array; note: string } | undefined;
  /** Stamps the watch events and the checkpoint row (ISO 8601). */
  at: string;
}

export async function commitProvenSlice(db: Kysely<Database>, slice: ProvenSlice): Promise<void> {
  const bulk = bulkAppendOf(db);
  const { origin, entries, checkpoint, at } = slice;
  await db.transaction().execute(async (trx) => {
    const log = new LogWriter(trx, bulk);
    const listings = new ListingWriter(trx, new Date(at), bulk);
    await log.append(
      origin,
      entries.map(({ bytes, entry, leafHash }) => ({ seq: entry.seq, kind: entry.kind, time: entry.time, bytes, leafHash })),
    );
    // Consecutive listings go in as one run; a retraction must see the listings before it.
    let run: { entry: ListingEntry; reference: null }[] = [];
    for (const { entry } of entries) {
      if (entry.kind === 'listing') {
        run.push({ entry, reference: null });
        continue;
      }
      await listings.insertListings(run);
      run = [];
      // A retraction of a listing already retracted or unknown changes nothing in the projection;
      // the entry itself stays in the log as the origin signed it.
      await listings.applyRetraction(entry);
    }
    await listings.insertListings(run);
    if (checkpoint) await new CheckpointRepository(trx).insert({ origin, ...checkpoint }, at);
  });
}

/** A page as the peer answered `GET …/entries?start&end`, with what the signed tree allows of it. */
export interface PageRequest {
  origin: string;
  /** The index of the page's first entry. */
  start: number;
  /** At most this many entries (the range asked for). */
  maxEntries: number;
  /** The answer's body as received: JSON `{"entries": [base64, …]}`. */
  body: Uint8Array;
  /** The roster the entries are validated against (plain data: it crosses to the worker as is). */
  roster: Roster;
}

export type PageVerdict = { ok: true } | { ok: false; index: number; kind: MisbehaviourKind; message: string; entry: string };

export type PreparedPage =
  | {
      ok: true;
      /** Names the held page for `commit` and `release`. */
      page: number;
      count: number;
      /** The leaf hashes of all `count` entries, 32 bytes each, end to end. */
      leafHashes: Uint8Array;
      /** The entries before the first bad one (all of them when the verdict is ok). */
      good: number;
      verdict: PageVerdict;
    }
  /** The answer is not a page any node sends (not JSON, wrong shape, not base64): a bad response. */
  | { ok: false; problem: string };

/** Where pages are prepared and committed: this thread, or the ingest worker (worker-committer.ts). */
export interface IngestPipeline {
  prepare(request: PageRequest): Promise<PreparedPage>;
  /** Commits entries [from, to) of a held page in one transaction; with `checkpoint` the slice completes the signed tree. */
  commit(page: number, from: number, to: number, checkpoint: ProvenSlice['checkpoint'], at: string): Promise<void>;
  release(page: number): void;
  close(): Promise<void>;
}

export const LEAF_HASH_BYTES = 32;
/** Entries between two yields to the event loop where a page is prepared on the main thread. */
const YIELD_EVERY = 100;

interface HeldPage {
  origin: string;
  bytes: Uint8Array[];
  entries: LogEntry[];
  leafHashes: Uint8Array;
}

/** Parses the peer's answer (attacker-controlled: every field is checked before use). */
function parsePage(body: Uint8Array, start: number, maxEntries: number): Uint8Array[] | string {
  let parsed: unknown;
  try {
    // JSON.parse is not recursive in V8: deeply nested input costs time linear in its size.
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    return 'response is not JSON';
  }
  const entries = (parsed as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > maxEntries) return `expected 1 to ${maxEntries} entries`;
  const out: Uint8Array[] = [];
  for (const e of entries) {
    const bytes = typeof e === 'string' ? fromBase64(e) : undefined;
    if (!bytes) return `entry ${start + out.length} is not base64`;
    out.push(bytes);
  }
  return out;
}

/**
 * Holds prepared pages until they are committed or released; `pause` is awaited every
 * YIELD_EVERY entries (the main thread yields to its event loop there; the worker needs not).
 */
export class PageStore {
  private readonly held = new Map<number, HeldPage>();
  private next = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly pause?: () => Promise<void>,
  ) {}

  async prepare(request: PageRequest): Promise<PreparedPage> {
    const { origin, start, roster } = request;
    const page = parsePage(request.body, start, request.maxEntries);
    if (typeof page === 'string') return { ok: false, problem: page };
    const leafHashes = new Uint8Array(page.length * LEAF_HASH_BYTES);
    const entries: LogEntry[] = [];
    let malformed: { index: number; failure: EntryFailure } | undefined;
    for (let i = 0; i < page.length; i++) {
      if (this.pause && i > 0 && i % YIELD_EVERY === 0) await this.pause();
      leafHashes.set(leafHash(page[i]!), i * LEAF_HASH_BYTES);
      if (malformed !== undefined) continue;
      const decoded = decodeEntry(page[i]!);
      if (decoded.ok) entries.push(decoded.entry);
      else malformed = { index: start + i, failure: { code: 'malformed', error: decoded.error } };
    }
    // The rules of a log (log/validate.ts, as append and `jointban verify` apply them), in order. A
    // retraction's target before the page is looked up in the store: the pages before this one
    // are committed before it is prepared (ingest.ts).
    const listings = await new LogReader(this.db).listingSeqs(origin, targetsBefore(start, entries));
    const run = { origin, roster, before: { isListing: (seq: number) => listings.has(seq) }, start, entries };
    let bad: { index: number; failure: EntryFailure } | undefined;
    for (let at = 0; at < entries.length && bad === undefined; at += YIELD_EVERY) {
      if (this.pause && at > 0) await this.pause();
      bad = checkRun(run, at, Math.min(entries.length, at + YIELD_EVERY));
    }
    // A malformed entry is the first failure unless an entry before it broke a rule.
    bad ??= malformed;
    let verdict: PageVerdict = { ok: true };
    if (bad !== undefined) {
      entries.length = bad.index - start;
      verdict = { ok: false, index: bad.index, kind: failureKind(bad.failure), message: describeFailure(origin, bad.index, bad.failure), entry: toBase64(page[bad.index - start]!) };
    }
    const id = this.next++;
    this.held.set(id, { origin, bytes: page, entries, leafHashes });
    return { ok: true, page: id, count: page.length, leafHashes, good: entries.length, verdict };
  }

  async commit(id: number, from: number, to: number, checkpoint: ProvenSlice['checkpoint'], at: string): Promise<void> {
    const page = this.held.get(id);
    if (!page) throw new Error(`page ${id} is not held`);
    if (from < 0 || to > page.entries.length || from >= to) throw new Error(`page ${id} holds ${page.entries.length} valid entries, not [${from}, ${to})`);
    const entries = page.entries.slice(from, to).map((entry, i) => ({
      entry,
      bytes: page.bytes[from + i]!,
      leafHash: page.leafHashes.subarray((from + i) * LEAF_HASH_BYTES, (from + i + 1) * LEAF_HASH_BYTES),
    }));
    await commitProvenSlice(this.db, { origin: page.origin, entries, checkpoint, at });
  }

  release(id: number): void {
    this.held.delete(id);
  }
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Prepares and commits on the calling thread, yielding to its event loop within a page. */
export function inProcessPipeline(db: Kysely<Database>): IngestPipeline {
  const pages = new PageStore(db, yieldToLoop);
  return {
    prepare: (request) => pages.prepare(request),
    commit: (page, from, to, checkpoint, at) => pages.commit(page, from, to, checkpoint, at),
    release: (page) => pages.release(page),
    close: async () => undefined,
  };
}

/** The messages between worker-committer.ts and ingest-commit-worker.ts. */
export type PipelineJob =
  | { id: number; type: 'prepare'; request: PageRequest }
  | { id: number; type: 'commit'; page: number; from: number; to: number; checkpoint: ProvenSlice['checkpoint']; at: string }
  | { id: number; type: 'release'; page: number }
  /** The last job: the worker closes its database connection, so a stop leaves no session behind. */
  | { id: number; type: 'close' };

export type PipelineReply = { id: number; ok: true; prepared?: PreparedPage } | { id: number; ok: false; message: string };
