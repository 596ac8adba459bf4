/**
 * Checks an origin's stored checkpoints (C2SP tlog-checkpoint notes) as the walk over its entries
 * reaches each checkpoint's size: the note verifies with one of the origin's roster keys under the
 * key name `<federation>/<origin>`, that key's period contains the checkpoint's time (the time of the
 * last entry it covers; PROTOCOL.md, "Key history"), the stored size and root columns are the signed ones, and the signed
 * root is the RFC 9162 root recomputed from the entries. Witness cosignatures (C2SP
 * tlog-cosignature) are verified and counted.
 *
 * Checkpoints are loaded a batch of leaves at a time (those whose size falls in the batch), so
 * memory stays bounded however many the log has.
 */
import type { Kysely, Transaction } from 'kysely';
import { bytesEqual } from '../crypto/encoding.js';
import { openCheckpoint, type OpenedCheckpoint } from '../log/checkpoint.js';
import { verifyCosignatures } from '../log/cosignature.js';
import { checkpointKeyError, keyValidAt, type MemberKey } from '../roster/index.js';
import type { Witness } from '../roster/witness.js';
import type { Database } from '../store/tables.js';
import type { OriginReport } from './verify-report.js';

type Db = Kysely<Database> | Transaction<Database>;

interface CheckpointRow {
  size: number;
  root: Uint8Array;
  note: string;
}

export interface CheckpointCheckOptions {
  /** The origin's log keys and their key name; undefined when the origin is unknown (its notes cannot be verified). */
  keys: { name: string; keys: MemberKey[] } | undefined;
  witness: Witness | undefined;
  /** Whether a checkpoint without a witness cosignature is a failure rather than a warning. */
  requireCosignatures: boolean;
}

export class CheckpointCheck {
  #queue: CheckpointRow[] = [];
  #next = 0;
  #uncosigned = 0;
  #firstUncosigned: number | undefined;

  constructor(
    private readonly db: Db,
    private readonly origin: string,
    private readonly options: CheckpointCheckOptions,
    private readonly report: OriginReport,
  ) {}

  /** Loads the checkpoints with after < size ≤ upTo, the sizes the next batch of leaves reaches. */
  async load(after: number, upTo: number): Promise<void> {
    const rows = await this.db
      .selectFrom('checkpoints')
      .select(['size', 'root', 'note'])
      .where('origin', '=', this.origin)
      .where('size', '>', after)
      .where('size', '<=', upTo)
      .orderBy('size')
      .execute();
    this.#queue = rows.map((r) => ({ size: Number(r.size), root: new Uint8Array(r.root), note: r.note }));
    this.#next = 0;
  }

  /** The size of the next loaded checkpoint, so the walk computes a root only where one is stored. */
  nextSize(): number | undefined {
    return this.#queue[this.#next]?.size;
  }

  /**
   * Checks the loaded checkpoint of `size` against the root recomputed from the entries and the
   * time of the last of them (undefined for size 0).
   */
  check(size: number, root: Uint8Array, lastEntryTime: string | undefined): void {
    const row = this.#queue[this.#next];
    if (row === undefined || row.size !== size) return;
    this.#next++;
    this.report.checkpoints++;
    this.checkNote(row, root, lastEntryTime);
    this.checkCosignature(row);
  }

  /** After the walk over `logSize` entries: checkpoints beyond it, and the cosignature summary. */
  async finish(logSize: number): Promise<void> {
    const beyond = await this.db.selectFrom('checkpoints').select(['size']).where('origin', '=', this.origin).where('size', '>', logSize).orderBy('size').execute();
    for (const row of beyond) {
      this.report.checkpoints++;
      this.report.fail('checkpoint_beyond_log', `checkpoint of ${this.origin} at size ${Number(row.size)} covers more than the ${logSize} entries held`, {
        size: Number(row.size),
      });
    }
    if (this.#uncosigned > 0 && !this.options.requireCosignatures) {
      this.report.warn(`${this.#uncosigned} of ${this.report.checkpoints} checkpoints carry no witness cosignature (the first at size ${this.#firstUncosigned})`);
    }
  }

  private checkNote(row: CheckpointRow, root: Uint8Array, lastEntryTime: string | undefined): void {
    const { keys } = this.options;
    const at = { size: row.size };
    if (keys === undefined) return;
    let cp: OpenedCheckpoint | undefined;
    let key: MemberKey | undefined;
    let error = 'no key of the member verifies it';
    for (const candidate of [...keys.keys].reverse()) {
      const opened = openCheckpoint(row.note, { name: keys.name, publicKey: candidate.publicKey });
      if (opened.ok) {
        cp = opened.checkpoint;
        key = candidate;
        break;
      }
      error = opened.error;
    }
    if (cp === undefined || key === undefined) {
      this.report.fail('bad_signature', `checkpoint of ${this.origin} at size ${row.size} does not verify with ${keys.name}: ${error}`, at);
      return;
    }
    const period = checkpointKeyError(key, lastEntryTime);
    if (period !== undefined) this.report.fail('bad_signature', `checkpoint of ${this.origin} at size ${row.size}: ${period}`, at);
    if (cp.size !== row.size || !bytesEqual(cp.root, row.root)) {
      this.report.fail('checkpoint_mismatch', `checkpoint of ${this.origin} at size ${row.size}: the stored size or root differs from the signed note (size ${cp.size})`, at);
    }
    // Compared at the signed size: every checkpoint's root is recomputed from the one leaf sequence.
    if (!bytesEqual(cp.root, root)) {
      this.report.fail('root_mismatch', `checkpoint of ${this.origin} at size ${row.size}: the signed root differs from the root of the stored entries`, at);
    }
  }

  private checkCosignature(row: CheckpointRow): void {
    const { witness } = this.options;
    if (witness === undefined) return;
    // One check per witness key (they share a name): each cosignature's timestamp must fall in the
    // period of the key that made it.
    let cosigned = false;
    for (const key of witness.keys) {
      const result = verifyCosignatures(row.note, [{ name: witness.name, publicKey: key.publicKey }]);
      if (!result.ok) {
        this.report.fail('bad_cosignature', `checkpoint of ${this.origin} at size ${row.size}: ${result.error}`, { size: row.size });
        return;
      }
      for (const c of result.cosignatures) {
        if (keyValidAt(key, new Date(c.timestamp * 1000).toISOString())) cosigned = true;
        else this.report.fail('bad_cosignature', `checkpoint of ${this.origin} at size ${row.size}: cosigned at ${c.timestamp} by a witness key outside its period`, { size: row.size });
      }
    }
    if (cosigned) {
      this.report.cosignedCheckpoints++;
      return;
    }
    if (this.options.requireCosignatures) {
      this.report.fail('missing_cosignature', `checkpoint of ${this.origin} at size ${row.size} has no cosignature by ${witness.name}`, { size: row.size });
      return;
    }
    this.#uncosigned++;
    this.#firstUncosigned ??= row.size;
  }
}
