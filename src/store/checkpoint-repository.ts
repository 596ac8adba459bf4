/**
 * Signed checkpoints this node holds: every one it signed for its own log and every one it
 * accepted for a mirrored log, stored as the exact note text that was verified.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './tables.js';

export interface StoredCheckpoint {
  origin: string;
  size: number;
  root: Uint8Array;
  note: string;
  recordedAt: string;
}

type Row = Database['checkpoints'];

function fromRow(r: Row): StoredCheckpoint {
  return { origin: r.origin, size: Number(r.size), root: new Uint8Array(r.root), note: r.note, recordedAt: r.recorded_at };
}

export class CheckpointRepository {
  constructor(private readonly db: Kysely<Database> | Transaction<Database>) {}

  async latest(origin: string): Promise<StoredCheckpoint | undefined> {
    const row = await this.db.selectFrom('checkpoints').selectAll().where('origin', '=', origin).orderBy('size', 'desc').limit(1).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async atSize(origin: string, size: number): Promise<StoredCheckpoint | undefined> {
    const row = await this.db.selectFrom('checkpoints').selectAll().where('origin', '=', origin).where('size', '=', size).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  /** The smallest checkpoint that covers the given leaf index (size > index), for receipts. */
  async covering(origin: string, index: number): Promise<StoredCheckpoint | undefined> {
    const row = await this.db.selectFrom('checkpoints').selectAll().where('origin', '=', origin).where('size', '>', index).orderBy('size', 'desc').limit(1).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  /** Up to `limit` checkpoints of `origin` larger than `size`, smallest first. */
  async after(origin: string, size: number, limit: number): Promise<StoredCheckpoint[]> {
    const rows = await this.db.selectFrom('checkpoints').selectAll().where('origin', '=', origin).where('size', '>', size).orderBy('size').limit(limit).execute();
    return rows.map(fromRow);
  }

  /** The latest checkpoint of every origin. */
  async latestAll(): Promise<StoredCheckpoint[]> {
    const rows = await this.db
      .selectFrom('checkpoints as c')
      .selectAll('c')
      .where(({ eb, selectFrom }) =>
        eb(
          'c.size',
          '=',
          selectFrom('checkpoints as d')
            .select((e) => e.fn.max('d.size').as('m'))
            .whereRef('d.origin', '=', 'c.origin'),
        ),
      )
      .orderBy('c.origin')
      .execute();
    return rows.map(fromRow);
  }

  /**
   * Replaces the stored note of a checkpoint with the same tree signed more widely (the witness's
   * cosignature added): from sync (ingest.ts), and from the witness on request for the node's own
   * log and any other it holds (cosignature-collector.ts). Only the note changes, and
   * only where origin, size and root all match.
   */
  async replaceNote(cp: { origin: string; size: number; root: Uint8Array; note: string }): Promise<void> {
    await this.db.updateTable('checkpoints').set({ note: cp.note }).where('origin', '=', cp.origin).where('size', '=', cp.size).where('root', '=', cp.root).execute();
  }

  /** Inserts a checkpoint; one already stored at that size is left as it is. */
  async insert(cp: { origin: string; size: number; root: Uint8Array; note: string }, at: string): Promise<void> {
    await this.db
      .insertInto('checkpoints')
      .values({ origin: cp.origin, size: cp.size, root: cp.root, note: cp.note, recorded_at: at })
      .onConflict((oc) => oc.columns(['origin', 'size']).doNothing())
      .execute();
  }
}
