/**
 * The baselines of the bulk benchmark (bulk-bench.ts), measured in the same run as the figures they
 * are compared with: bare prepared inserts of the rows a sync writes, and reading (and tokenising)
 * the import file without writing. Also the generated import file.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { decodeEntry, listingId } from '../../src/log/entry.js';
import type { Tokenizer } from '../../src/service/tokenizer.js';
import { listingFromRow, LISTING_COLUMNS } from '../../src/service/import-rows.js';
import { eachRow, openRowSource } from '../../src/service/import-source.js';
import { openDatabase } from '../../src/store/database.js';
import { person } from './synthetic.js';

/** Bare prepared inserts of the rows a sync writes (no hashing, no verification, no HTTP): the ceiling. */
export async function bareInserts(sourceFile: string, origin: string, targetDir: string, pageSize: number): Promise<{ entries: number; seconds: number }> {
  const source = new SQLite(sourceFile, { readonly: true, fileMustExist: true });
  const target = await openDatabase({ driver: 'sqlite', file: join(targetDir, 'baseline.db') });
  const page = source.prepare('SELECT seq, kind, time, bytes, leaf_hash FROM log_entries WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?');
  const insertEntry = target.sqlite.prepare('INSERT INTO log_entries (origin, seq, kind, time, bytes, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)');
  const insertListing = target.sqlite.prepare(
    "INSERT INTO listings (id, origin, seq, category, severity, listed_at, banned_at, ban_until, expires_at, evidence_digest, status, reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', NULL)",
  );
  const insertToken = target.sqlite.prepare('INSERT INTO listing_tokens (token, type, epoch, listing_id) VALUES (?, ?, ?, ?)');
  let after = 0;
  let ms = 0;
  try {
    for (;;) {
      const rows = page.all(origin, after, pageSize) as { seq: number; kind: string; time: string; bytes: Buffer; leaf_hash: Buffer }[];
      if (rows.length === 0) break;
      // Reading and decoding are not timed: the baseline is the inserts alone.
      const entries = rows.map((r) => {
        const decoded = decodeEntry(new Uint8Array(r.bytes));
        if (!decoded.ok || decoded.entry.kind !== 'listing') throw new Error(`baseline: entry ${r.seq} is not a listing`);
        return { row: r, entry: decoded.entry };
      });
      const started = performance.now();
      target.sqlite.transaction(() => {
        for (const { row, entry } of entries) {
          const id = listingId(origin, entry.seq);
          insertEntry.run(origin, row.seq, row.kind, row.time, row.bytes, row.leaf_hash);
          insertListing.run(id, origin, entry.seq, entry.category, entry.severity, entry.time, entry.bannedAt, entry.banUntil, entry.expiresAt, entry.evidenceDigest ?? null);
          for (const t of entry.tokens) insertToken.run(Buffer.from(t.token, 'hex'), t.type, t.epoch, id);
        }
      })();
      ms += performance.now() - started;
      after = rows[rows.length - 1]!.seq;
    }
  } finally {
    source.close();
    await target.close();
  }
  return { entries: after, seconds: ms / 1000 };
}

const CSV_HEADER = 'reference,category,banned_at,ban_until,phone,email,national_id\n';
const CATEGORIES = ['fraud', 'rumor', 'impersonation', 'illegal_profit', 'doxxing'];

export async function writeImportFile(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  const bannedAt = new Date(Date.now() - 86_400_000).toISOString();
  out.write(CSV_HEADER);
  for (let k = 0; k < rows; k++) {
    const p = person(k);
    if (!out.write(`acct-${k},${CATEGORIES[k % CATEGORIES.length]},${bannedAt},,${p.phone},${p.email},${p.nationalId}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Reading the file as the import does, with or without tokenising each row: the import's floor. */
export async function parseFile(file: string, tokenizer: Tokenizer | undefined, categories: readonly string[]): Promise<{ rows: number; seconds: number }> {
  const started = performance.now();
  const source = await openRowSource({ file, columns: LISTING_COLUMNS });
  let rows = 0;
  const error = await eachRow(
    source,
    async (item) => {
      if (!item.ok) throw new Error(`row ${item.row}: ${item.reason}`);
      const parsed = listingFromRow(item, { categories, maxIdentifiers: 16 });
      if (!parsed.ok) throw new Error(`row ${item.row}: ${parsed.reason}`);
      if (tokenizer) tokenizer.tokensFor(parsed.value.identifiers);
      rows++;
    },
    () => false,
  );
  if (error) throw error;
  return { rows, seconds: (performance.now() - started) / 1000 };
}
