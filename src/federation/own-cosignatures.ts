/**
 * A member's witness cosignatures of its own checkpoints (docs/PROTOCOL.md, "Cosignatures of a
 * member's own checkpoints"). Peers store the witness's cosignature with the checkpoints they pull,
 * but the member itself signed its checkpoints and never pulls its own log, so without this it
 * would hold none of them, and `jointban verify --require-cosignatures` (and a restore with it)
 * would fail on its own log.
 *
 * Each round asks the witness (the roster's association) to cosign the member's stored checkpoints
 * that carry no valid witness cosignature yet, oldest first, a batch at a time
 * (witness-requests.ts serves it), and stores each cosigned note in place of its own
 * (CheckpointRepository.replaceNote: same origin, size and root). A checkpoint the witness does
 * not hold yet is asked for again next round. `node_meta` keeps the size up to which every own
 * checkpoint is cosigned, so a round reads only the checkpoints after it.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Roster } from '../roster/index.js';
import { CheckpointRepository, type StoredCheckpoint } from '../store/checkpoint-repository.js';
import { NodeMetaRepository } from '../store/node-meta-repository.js';
import type { Database } from '../store/tables.js';
import { federationPaths } from './paths.js';
import type { PeerClient } from './peer-client.js';
import { isCosigned, witnessOf, type Witness } from './witness.js';
import { MAX_COSIGN_NOTES } from './witness-requests.js';

/** The `node_meta` key: every own checkpoint up to this size carries the witness's cosignature. */
export const OWN_COSIGNED_THROUGH = 'own_log.cosigned_through';

/** Batches per round at most, so one round stays short however far behind it is. */
const MAX_BATCHES_PER_ROUND = 16;

export interface OwnCosignaturesDeps {
  db: Kysely<Database>;
  self: string;
  roster: () => Roster | undefined;
  client: Pick<PeerClient, 'post'>;
  intervalMs: number;
  logger: Logger;
}

export class OwnCosignatures {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  /** Sizes the witness refused, logged once each (a refusal is final: it is misbehaviour evidence). */
  private readonly refused = new Set<number>();

  constructor(private readonly deps: OwnCosignaturesDeps) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round()
        .catch((err: unknown) => this.deps.logger.debug({ err: (err as Error).message }, 'fetching cosignatures of the own log failed'))
        .then(() => this.schedule(this.deps.intervalMs));
    }, ms);
    this.timer.unref();
  }

  /** One round; returns how many cosigned notes it stored. */
  async round(): Promise<number> {
    const { deps } = this;
    const roster = deps.roster();
    const association = roster?.members.find((m) => m.role === 'association');
    const witness = roster ? witnessOf(roster) : undefined;
    if (!association || !witness || association.id === deps.self || association.status !== 'active') return 0;
    const meta = new NodeMetaRepository(deps.db);
    const repo = new CheckpointRepository(deps.db);
    let through = Number((await meta.get(OWN_COSIGNED_THROUGH)) ?? -1);
    let stored = 0;
    for (let batches = 0; batches < MAX_BATCHES_PER_ROUND; batches++) {
      const batch = await repo.after(deps.self, through, MAX_COSIGN_NOTES);
      if (batch.length === 0) break;
      const missing = batch.filter((cp) => !isCosigned(cp.note, witness));
      const cosigned = missing.length > 0 ? await this.ask(association.endpoint, witness, missing) : new Map<number, string>();
      for (const cp of missing) {
        const note = cosigned.get(cp.size);
        if (note === undefined) continue;
        await repo.replaceNote({ origin: deps.self, size: cp.size, root: cp.root, note });
        stored++;
      }
      const before = through;
      for (const cp of batch) {
        if (!isCosigned(cp.note, witness) && !cosigned.has(cp.size)) break;
        through = cp.size;
      }
      if (through !== before) await meta.put(OWN_COSIGNED_THROUGH, String(through));
      // Something in this batch is not cosigned yet: the witness has not synced that far.
      if (through !== batch.at(-1)?.size) break;
    }
    return stored;
  }

  /**
   * Asks the witness; returns the cosigned note per size. The answer is peer data: a note is kept
   * only if it is this node's own note with a valid witness cosignature appended.
   */
  private async ask(endpoint: string, witness: Witness, missing: StoredCheckpoint[]): Promise<Map<number, string>> {
    const body = await this.deps.client.post(endpoint, federationPaths.cosignatures(), { checkpoints: missing.map((cp) => cp.note) });
    const answers = (body as { checkpoints?: unknown } | undefined)?.checkpoints;
    const out = new Map<number, string>();
    if (!Array.isArray(answers) || answers.length !== missing.length) {
      this.deps.logger.warn({ witness: witness.name }, 'the witness answered a cosignature request with a malformed response');
      return out;
    }
    missing.forEach((cp, i) => {
      const answer = answers[i] as { status?: unknown; note?: unknown; reason?: unknown } | undefined;
      if (answer?.status === 'cosigned' && typeof answer.note === 'string' && answer.note.startsWith(cp.note) && isCosigned(answer.note, witness)) {
        out.set(cp.size, answer.note);
      } else if (answer?.status === 'refused' && !this.refused.has(cp.size) && this.refused.size < 1000) {
        this.refused.add(cp.size);
        this.deps.logger.error({ size: cp.size, reason: String(answer.reason) }, 'the witness refused to cosign a checkpoint of this node\'s own log');
      }
    });
    return out;
  }
}
