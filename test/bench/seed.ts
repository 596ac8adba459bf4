/**
 * The bench's seeding child: initialises a node's data directory and writes N synthetic listings
 * (persons 0…N−1 of synthetic.ts, three tokens each) straight into SQLite, then exits. For 10M
 * tokens createMany is far too slow (100k listings took 86 s: every batch goes through Kysely and
 * the node's durability settings); this writes the very same rows with bare prepared statements in
 * transactions of 20,000 listings:
 *
 * - every listed person a check body of the run refers to (the deny and review bodies of the pool,
 *   a few thousand) is validated and tokenised by the node's own `ListingService.prepareListing`,
 *   so those checks really match. For the millions of others, HMAC-SHA256 and normalisation would
 *   take most of the seeding time (tens of minutes on a shared 2-core machine) for tokens no check
 *   ever asks for: they get 16 random bytes per token instead, which is what HMAC outputs look like
 *   to the token filter and to SQLite's index (same count, size and spread). Their entries have the
 *   same shape, category, dates and token types and epochs as the real ones;
 * - every entry is encoded by the log's `encodeEntry` (which validates it), one timestamp for the
 *   whole seed;
 * - leaf hashes are real (RFC 9162: SHA-256 of 0x00 ‖ entry bytes, through node:crypto) and the
 *   Merkle nodes come from the log's own `CompactRange`, so the node signs a valid checkpoint over
 *   the seeded log when it starts;
 * - entries are not signed one by one (nothing signs single entries: checkpoints sign the tree);
 * - `synchronous = OFF` and a 1 GB page cache while seeding: a crash would only lose a bench's temp
 *   data. The node reopens the file with its own settings (WAL, synchronous = FULL).
 *
 * Afterwards it times the baseline of the node's start-up: reading every token row with a bare
 * statement (`SELECT token FROM listing_tokens NOT INDEXED`). With `reuse` (run.ts `--store`) it
 * only does that, on a store seeded earlier.
 */
import { statSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { pino } from 'pino';
import { sha256Native } from '../../src/crypto/index.js';
import { loadConfig } from '../../src/config/load.js';
import { initDataDir } from '../../src/init.js';
import { encodeEntry, listingId } from '../../src/log/entry.js';
import { CompactRange } from '../../src/log/compact-range.js';
import { createNode } from '../../src/node.js';
import { randomBytes } from 'node:crypto';
import type { ListingEntry } from '../../src/log/entry.js';
import { checkBodies, listingInput } from './synthetic.js';

export interface SeedArgs {
  dataDir: string;
  listings: number;
  /** The body pool of the run (checkBodies' count and seed): whose listings need real tokens. */
  pool: number;
  seed: number;
  /** The data directory holds a store seeded earlier (`--store`): only time the bare read. */
  reuse?: boolean;
}

export interface SeedResult {
  listings: number;
  tokens: number;
  seedMs: number;
  databaseBytes: number;
  /** Reading every token row with a bare prepared statement (`.iterate()`, pluck). */
  bareTokenReadMs: number;
}

const TRANSACTION = 20_000;
const MEMBER = 'bench';

const args = JSON.parse(process.argv[2] ?? '{}') as SeedArgs;

function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Every token row read with a bare prepared statement: the baseline of the node's start-up. */
function bareRead(db: SQLite.Database): { ms: number; rows: number } {
  const started = performance.now();
  let rows = 0;
  // NOT INDEXED: in rowid order, as the node reads them (SQLite would otherwise scan the covering
  // primary-key index, in token order). On the shared machine both took about 90 s for 10M rows.
  for (const token of db.prepare<[], Buffer>('SELECT token FROM listing_tokens NOT INDEXED').pluck().iterate()) rows += token.length > 0 ? 1 : 0;
  return { ms: performance.now() - started, rows };
}

if (args.reuse) {
  const file = loadConfig(args.dataDir, {}).databaseFile;
  const db = new SQLite(file, { readonly: true });
  const read = bareRead(db);
  db.close();
  const reused: SeedResult = { listings: args.listings, tokens: read.rows, seedMs: 0, databaseBytes: size(file) + size(`${file}-wal`), bareTokenReadMs: read.ms };
  process.stdout.write(`${JSON.stringify(reused)}\n`);
  process.exit(0);
}

// The default check allowance (50 identifiers per second per key) would measure the limit, not the
// node: the bench key gets one far above what the node can serve, so the limiter still runs.
await initDataDir({
  dataDir: args.dataDir,
  member: MEMBER,
  host: '127.0.0.1',
  port: 0,
  extra: { limits: { check: { ratePerSecond: 1_000_000, burst: 1_000_000 } } },
});
const config = loadConfig(args.dataDir, {});
// The node's ListingService validates and tokenises exactly as createMany does; its database
// connection is not used for the writes below.
const node = await createNode(config, { logger: pino({ level: 'silent' }) });
await node.stop();

const started = performance.now();
const db = new SQLite(config.databaseFile);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = OFF');
db.pragma('cache_size = -1000000');
const insertEntry = db.prepare('INSERT INTO log_entries (origin, seq, kind, time, bytes, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)');
const insertNode = db.prepare('INSERT INTO tree_nodes (origin, level, idx, hash) VALUES (?, ?, ?, ?)');
const insertListing = db.prepare(
  `INSERT INTO listings (id, origin, seq, category, severity, listed_at, banned_at, ban_until, expires_at, evidence_digest, status, retracted_at, retraction_reason, retraction_seq, reference)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'active', NULL, NULL, NULL, ?)`,
);
const insertToken = db.prepare('INSERT INTO listing_tokens (token, type, epoch, listing_id) VALUES (?, ?, ?, ?)');

const now = new Date();
const time = now.toISOString();
const referenced = new Set(checkBodies(args.listings, args.pool, args.seed).flatMap((b) => (b.listedPerson === undefined ? [] : [b.listedPerson])));
const template = node.listings.prepareListing(listingInput(0, now)).entry;
/**
 * The encoded bytes of a random-token entry, by substitution into encodeEntry's own output for the
 * same entry with placeholder seq and tokens (encodeEntry's canonical JSON costs more than all the
 * inserts). Checked against encodeEntry every 10,000 listings.
 */
const SEQ_MARK = 987_654_321;
const tokenMark = (i: number) => String.fromCharCode(97 + i).repeat(32);
const templates = new Map<string, string[]>();
function fillerBytes(entry: ListingEntry): Uint8Array {
  let parts = templates.get(entry.category);
  if (!parts) {
    const marked = { ...entry, seq: SEQ_MARK, tokens: entry.tokens.map((t, i) => ({ ...t, token: tokenMark(i) })) };
    const text = Buffer.from(encodeEntry(marked)).toString('utf8');
    parts = text.split(new RegExp(`${SEQ_MARK}|${entry.tokens.map((_, i) => tokenMark(i)).join('|')}`));
    if (parts.length !== entry.tokens.length + 2) throw new Error('seed: unexpected entry template');
    templates.set(entry.category, parts);
  }
  let out = parts[0]! + String(entry.seq) + parts[1]!;
  entry.tokens.forEach((t, i) => (out += t.token + parts[i + 2]!));
  const bytes = Buffer.from(out, 'utf8');
  if (entry.seq % 10_000 === 0 && !bytes.equals(encodeEntry(entry))) throw new Error('seed: substituted entry bytes differ from encodeEntry');
  return bytes;
}

/** A listing of person k: real tokens when a check body refers to k, random ones otherwise (see above). */
function entryOf(k: number, seq: number): { entry: ListingEntry; reference: string | null; bytes: Uint8Array } {
  if (referenced.has(k)) {
    const prepared = node.listings.prepareListing(listingInput(k, now));
    const entry = { ...prepared.entry, seq, time };
    return { entry, reference: prepared.reference, bytes: encodeEntry(entry) };
  }
  const input = listingInput(k, now);
  const random = randomBytes(16 * template.tokens.length);
  const tokens = template.tokens.map((t, i) => ({ type: t.type, epoch: t.epoch, token: random.toString('hex', 16 * i, 16 * i + 16) }));
  const entry: ListingEntry = { ...template, category: input.category, tokens, seq, time };
  return { entry, reference: input.reference ?? null, bytes: fillerBytes(entry) };
}
const tree = new CompactRange();
let tokens = 0;
const writeSlice = db.transaction((from: number, to: number) => {
  for (let k = from; k < to; k++) {
    const seq = k + 1;
    const { entry, reference, bytes } = entryOf(k, seq);
    const leaf = sha256Native(Buffer.concat([Buffer.of(0), bytes]));
    insertEntry.run(MEMBER, seq, 'listing', time, bytes, leaf);
    for (const n of tree.append(leaf)) insertNode.run(MEMBER, n.level, n.index, n.hash);
    const id = listingId(MEMBER, seq);
    insertListing.run(id, MEMBER, seq, entry.category, entry.severity, time, entry.bannedAt, entry.banUntil, entry.expiresAt, reference);
    for (const t of entry.tokens) {
      insertToken.run(Buffer.from(t.token, 'hex'), t.type, t.epoch, id);
      tokens += 1;
    }
  }
});
for (let from = 0; from < args.listings; from += TRANSACTION) {
  writeSlice(from, Math.min(args.listings, from + TRANSACTION));
  const done = Math.min(args.listings, from + TRANSACTION);
  if (done % Math.max(TRANSACTION, Math.floor(args.listings / 10 / TRANSACTION) * TRANSACTION) === 0 || done === args.listings) {
    process.stderr.write(`  seeded ${done} listings (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  }
}
db.pragma('wal_checkpoint(TRUNCATE)');
const seedMs = performance.now() - started;

const read = bareRead(db);
const bareTokenReadMs = read.ms;
if (read.rows !== tokens) throw new Error(`seeded ${tokens} tokens but read ${read.rows}`);
db.close();

const result: SeedResult = { listings: args.listings, tokens, seedMs, databaseBytes: size(config.databaseFile) + size(`${config.databaseFile}-wal`), bareTokenReadMs };
process.stdout.write(`${JSON.stringify(result)}\n`);
