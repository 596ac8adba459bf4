/**
 * `durability.mode: "witnessed"` (docs/CONFIGURATION.md, "Durability"): a listing or retraction is
 * acknowledged only once the witness (the association, C2SP tlog-cosignature) has cosigned a
 * checkpoint of this node's log that covers it. The witness cosigns only what it has verified and
 * stored, so an acknowledged entry then exists on a second machine, and a node that loses its disk
 * fetches it back from there (own-log-recovery.ts) instead of losing it.
 *
 * The append itself is unchanged: the entry is committed locally, the checkpoint signer signs and
 * announces it as usual, and the witness pulls it as any peer does. Callers then wait here; one
 * poll of the witness's checkpoint list serves every caller waiting at the time, so a burst of
 * listings costs one request per `witnessPollMs`, not one per listing. A wait that outlives
 * `witnessTimeoutMs` fails; the entry stays in the log and is cosigned whenever the witness catches up.
 *
 * A cosigned checkpoint counts only if its body is this node's own tree: signed by its own key
 * (roster), cosigned by a witness key valid at the cosignature's time, and with the root this node
 * computes for that size.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { bytesEqual } from '../crypto/encoding.js';
import { openMemberCheckpoint, type Roster } from '../roster/index.js';
import { CheckpointRepository } from '../store/checkpoint-repository.js';
import { LogReader } from '../store/log-repository.js';
import { rootAt } from '../store/proofs.js';
import type { Database } from '../store/tables.js';
import type { Synchronizer } from './sync.js';
import { isCosigned, witnessOf } from '../roster/witness.js';

export interface WitnessedDurabilityDeps {
  db: Kysely<Database>;
  self: string;
  /** True on the association's node: it is the witness, and cosigns its own checkpoints as it signs them. */
  isWitness: boolean;
  roster: () => Roster | undefined;
  /** The sync loop's reader of a peer's checkpoint list (parsed and checked as peer data). */
  sync: Pick<Synchronizer, 'checkpointsOf'>;
  timeoutMs: number;
  pollIntervalMs: number;
  logger: Logger;
}

interface Waiter {
  size: number;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Why a wait ended without a cosignature: the deadline, or the node stopping. */
export class NotWitnessedError extends Error {}

export class WitnessedDurability {
  /** The largest size of the own log known to be cosigned by the witness. */
  private cosignedSize = 0;
  private readonly waiters = new Set<Waiter>();
  private polling = false;
  private stopped = false;
  private lastProblem = 'no answer from the witness yet';

  constructor(private readonly deps: WitnessedDurabilityDeps) {}

  /** Resolves once a cosigned checkpoint covers the own log up to `size`; rejects after the deadline. */
  awaitCosigned(size: number): Promise<void> {
    if (size <= this.cosignedSize) return Promise.resolve();
    if (this.stopped) return Promise.reject(new NotWitnessedError('the node is stopping'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        size,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new NotWitnessedError(`the witness did not cosign a checkpoint covering it within ${this.deps.timeoutMs} ms (${this.lastProblem})`));
        }, this.deps.timeoutMs),
      };
      this.waiters.add(waiter);
      void this.poll();
    });
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new NotWitnessedError('the node is stopping'));
    }
    this.waiters.clear();
  }

  /** One loop while anyone waits: look, release the waiters covered, sleep, look again. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      while (this.waiters.size > 0 && !this.stopped) {
        try {
          const size = await this.cosignedByWitness();
          if (size > this.cosignedSize) this.cosignedSize = size;
        } catch (err) {
          this.lastProblem = `the witness did not answer: ${(err as Error).message}`;
          this.deps.logger.debug({ err: this.lastProblem }, 'witnessed durability: poll failed');
        }
        for (const w of this.waiters) {
          if (w.size > this.cosignedSize) continue;
          clearTimeout(w.timer);
          this.waiters.delete(w);
          w.resolve();
        }
        if (this.waiters.size > 0) await new Promise((r) => setTimeout(r, this.deps.pollIntervalMs));
      }
    } finally {
      this.polling = false;
    }
  }

  /** The size of the witness's cosigned checkpoint of this node's log that matches this node's tree (0: none). */
  private async cosignedByWitness(): Promise<number> {
    const { deps } = this;
    const roster = deps.roster();
    const witness = roster ? witnessOf(roster) : undefined;
    if (!roster || !witness) {
      this.lastProblem = 'no roster with a witness';
      return 0;
    }
    let note: string | undefined;
    if (deps.isWitness) {
      note = (await new CheckpointRepository(deps.db).latest(deps.self))?.note;
    } else {
      const association = roster.members.find((m) => m.role === 'association');
      if (!association) return 0;
      const list = await deps.sync.checkpointsOf({ id: association.id, endpoint: association.endpoint });
      note = list.find((cp) => cp.origin === deps.self)?.note;
    }
    if (note === undefined) {
      this.lastProblem = 'the witness holds no checkpoint of this log yet';
      return 0;
    }
    const opened = openMemberCheckpoint(roster, deps.self, note);
    if (!opened.ok || !isCosigned(note, witness)) {
      this.lastProblem = "the witness's checkpoint of this log is not cosigned";
      return 0;
    }
    const cp = opened.checkpoint;
    const reader = new LogReader(deps.db);
    if (cp.size > (await reader.size(deps.self)) || !bytesEqual(await rootAt(reader, deps.self, cp.size), cp.root)) {
      this.lastProblem = `the witness cosigned a tree of size ${cp.size} that is not this node's`;
      return 0;
    }
    this.lastProblem = `the witness has cosigned up to size ${cp.size}`;
    return cp.size;
  }
}
