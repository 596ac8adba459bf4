/**
 * The token filter (token-filter.ts) on disk, so a node with millions of tokens starts in a fraction of
 * the time it takes to read every token row from the database (10M rows: seconds; the 134 MB file: a
 * fraction of one). The file only ever saves work: the token index (token-index.ts, one adapter per
 * engine) validates it against the database (`snapshotFits`) and rebuilds from the database whenever
 * it does not fit.
 *
 * The watermark is a position in `listing_tokens` that only grows and that commits in order: SQLite's
 * rowid, PostgreSQL's `seq` (migration 0007).
 *
 * Layout (little-endian, the arrays as they are in memory, so a big-endian machine rebuilds):
 *   0  8 bytes  magic "JBTOKS01"
 *   8  u32      the filter's slot seed
 *  12  u32      fingerprints held (the all-zero one aside)
 *  16  u32      1 when the all-zero fingerprint is held
 *  20  u32      capacity (slots, a power of two)
 *  24  f64      watermark: the highest position (rowid, seq) of listing_tokens the filter holds every row up to
 *  32  16 bytes the token at that position: which database (and which history of it) this is for
 *  48  16 bytes zero
 *  64  capacity × u32 high halves, then capacity × u32 low halves
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { TokenFilter } from './token-filter.js';

const MAGIC = Buffer.from('JBTOKS01', 'latin1');
const HEADER = 64;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The snapshot's file name in the data directory. It predates the class's name (TokenSet): kept, so
 * a node finds the snapshot it wrote.
 */
export const TOKEN_SNAPSHOT_FILE = 'token-set.snapshot';

export interface TokenSnapshot {
  filter: TokenFilter;
  watermark: number;
  /** The token at position `watermark` when the snapshot was taken (empty when watermark is 0). */
  anchor: Uint8Array;
}

/** The positions `snapshotFits` reads: the watermark's and a sample of earlier ones. */
export function snapshotProbePositions(watermark: number): number[] {
  const w = watermark;
  return w > 0 ? [1, Math.ceil(w / 4), Math.ceil(w / 2), Math.ceil((3 * w) / 4), w] : [];
}

/**
 * Whether a snapshot fits this database: its watermark is not past the last position, the token at
 * the watermark is the one it recorded (the same database and the same history: rows are only
 * appended, so a database restored from an older backup has no such row or another token there),
 * and the sampled rows up to the watermark are in it. `tokenAt` answers for `snapshotProbePositions`
 * (undefined where no row has that position: PostgreSQL's seq has gaps where a transaction rolled back).
 */
export function snapshotFits(snapshot: TokenSnapshot, max: number, tokenAt: (position: number) => Uint8Array | undefined): boolean {
  const w = snapshot.watermark;
  if (!Number.isSafeInteger(w) || w < 0 || w > max) return false;
  if (w === 0) return true;
  const anchor = tokenAt(w);
  if (!anchor || !Buffer.from(anchor).equals(snapshot.anchor)) return false;
  return snapshotProbePositions(w).every((position) => {
    const token = tokenAt(position);
    return !token || snapshot.filter.mayContain(token);
  });
}

/** Reads a snapshot; undefined when the file is missing or is not one this code wrote. */
export async function readTokenSnapshot(file: string): Promise<TokenSnapshot | undefined> {
  if (!LITTLE_ENDIAN) return undefined;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return undefined;
  }
  if (bytes.length < HEADER || !bytes.subarray(0, 8).equals(MAGIC)) return undefined;
  const capacity = bytes.readUInt32LE(20);
  if (bytes.length !== HEADER + capacity * 8) return undefined;
  // Uint32Array views need 4-byte alignment; a large readFile buffer starts its own ArrayBuffer.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : Buffer.from(bytes);
  try {
    const filter = new TokenFilter(0, {
      seed: aligned.readUInt32LE(8),
      count: aligned.readUInt32LE(12),
      hasZero: aligned.readUInt32LE(16) === 1,
      hi: new Uint32Array(aligned.buffer, aligned.byteOffset + HEADER, capacity),
      lo: new Uint32Array(aligned.buffer, aligned.byteOffset + HEADER + capacity * 4, capacity),
    });
    return { filter, watermark: aligned.readDoubleLE(24), anchor: new Uint8Array(aligned.subarray(32, 48)) };
  } catch {
    return undefined;
  }
}

/**
 * Writes a snapshot atomically (a temp file, then rename). The arrays are written as they are while
 * checks go on: tokens added meanwhile (positions past the watermark) may or may not be in the file,
 * which only adds entries; every token up to the watermark is in a slot that no longer changes.
 */
export async function writeTokenSnapshot(file: string, snapshot: TokenSnapshot): Promise<void> {
  if (!LITTLE_ENDIAN) return;
  const state = snapshot.filter.state();
  const header = Buffer.alloc(HEADER);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(state.seed >>> 0, 8);
  header.writeUInt32LE(state.count, 12);
  header.writeUInt32LE(state.hasZero ? 1 : 0, 16);
  header.writeUInt32LE(state.hi.length, 20);
  header.writeDoubleLE(snapshot.watermark, 24);
  Buffer.from(snapshot.anchor).copy(header, 32, 0, 16);
  // One temp file per process: `jointban import --relist` may stop beside the running node, and two
  // writers of one temp file would rename a mix of two tables, which could miss a listed token.
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    // writeFile on a handle writes all of it, from the current position.
    await handle.writeFile(header);
    await handle.writeFile(new Uint8Array(state.hi.buffer, state.hi.byteOffset, state.hi.byteLength));
    await handle.writeFile(new Uint8Array(state.lo.buffer, state.lo.byteOffset, state.lo.byteLength));
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  await rename(temp, file);
}
