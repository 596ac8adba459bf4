/**
 * A member's witness cosignatures of the checkpoints it holds (docs/PROTOCOL.md, "Cosignatures on
 * request"). The witness cosigns a checkpoint as sync brings it, which is only at the sizes it
 * happens to pull; the member signed its own checkpoints and never pulls its own log, and it may
 * pull a peer's checkpoint from the peer before the witness has seen that size. Without this it
 * would hold checkpoints without the witness's cosignature for good (its own log's all of them),
 * and `jointban verify --require-cosignatures` (and a restore with it) would fail on its data.
 *
 * Each round asks the witness (the roster's association) to cosign the stored checkpoints that
 * carry no valid witness cosignature yet, log by log, oldest first, a batch at a time
 * (witness-requests.ts serves it), and stores each cosigned note in place of the one held
 * (CheckpointRepository.replaceNote: same origin, size and root). A checkpoint the witness does
 * not hold yet is asked for again next round. `node_meta` keeps, per log, the size up to which
 * every checkpoint is cosigned, so a round reads only the checkpoints after it.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Roster } from '../roster/index.js';
import { CheckpointRepository, type StoredCheckpoint } from '../store/checkpoint-repository.js';
import { NodeMetaRepository } from '../store/node-meta-repository.js';
import type { Database } from '../store/tables.js';
import { federationPaths } from './paths.js';
import type { PeerClient } from './peer-client.js';
import { isCosigned, witnessOf, type Witness } from '../roster/witness.js';
import { MAX_COSIGN_NOTES, parseCosignResponse } from './witness-requests.js';

/** The `node_meta` key per log: every checkpoint of `origin` up to this size carries the witness's cosignature. */
export const cosignedThroughKey = (origin: string): string => `cosigned_through.${origin}`;

/** Requests per round at most, so one round stays short however far behind it is. */
const MAX_REQUESTS_PER_ROUND = 16;

export interface CosignatureCollectorDeps {
  db: Kysely<Database>;
  self: string;
  roster: () => Roster | undefined;
  client: Pick<PeerClient, 'post'>;
  intervalMs: number;
  logger: Logger;
  /**
   * The sync loop's lifetime signal (sync.ts `signal`), read per request: the federation's stop
   * aborts it, so a witness that trickles or holds its answer cannot hold the stop.
   */
  signal: () => AbortSignal;
}

export class CosignatureCollector {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  /** Checkpoints the witness refused, logged once each (a refusal is final: it is misbehaviour evidence). */
  private readonly refused = new Set<string>();

  constructor(private readonly deps: CosignatureCollectorDeps) {}

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
        .catch((err: unknown) => this.deps.logger.debug({ err: (err as Error).message }, 'fetching witness cosignatures failed'))
        .then(() => this.schedule(this.deps.intervalMs));
    }, ms);
    this.timer.unref();
  }

  /** One round over every log held; returns how many cosigned notes it stored. */
  async round(): Promise<number> {
    const { deps } = this;
    const roster = deps.roster();
    const association = roster?.members.find((m) => m.role === 'association');
    const witness = roster ? witnessOf(roster) : undefined;
    if (!association || !witness || association.id === deps.self || association.status !== 'active') return 0;
    const repo = new CheckpointRepository(deps.db);
    const budget = { requests: MAX_REQUESTS_PER_ROUND };
    let stored = 0;
    for (const { origin } of await repo.latestAll()) {
      if (budget.requests <= 0 || this.stopped) break;
      stored += await this.collect(origin, association.endpoint, witness, budget);
    }
    return stored;
  }

  /** Brings one log's checkpoints up to date with the witness, as far as it holds them. */
  private async collect(origin: string, endpoint: string, witness: Witness, budget: { requests: number }): Promise<number> {
    const meta = new NodeMetaRepository(this.deps.db);
    const repo = new CheckpointRepository(this.deps.db);
    let through = Number((await meta.get(cosignedThroughKey(origin))) ?? -1);
    let stored = 0;
    for (;;) {
      const batch = await repo.after(origin, through, MAX_COSIGN_NOTES);
      if (batch.length === 0) break;
      const missing = batch.filter((cp) => !isCosigned(cp.note, witness));
      let cosigned = new Map<number, string>();
      if (missing.length > 0) {
        if (budget.requests <= 0 || this.stopped) break;
        budget.requests--;
        cosigned = await this.ask(endpoint, origin, witness, missing);
      }
      for (const cp of missing) {
        const note = cosigned.get(cp.size);
        if (note === undefined) continue;
        await repo.replaceNote({ origin, size: cp.size, root: cp.root, note });
        stored++;
      }
      const before = through;
      for (const cp of batch) {
        if (!isCosigned(cp.note, witness) && !cosigned.has(cp.size)) break;
        through = cp.size;
      }
      if (through !== before) await meta.put(cosignedThroughKey(origin), String(through));
      // Something in this batch is not cosigned yet: the witness has not synced that far.
      if (through !== batch.at(-1)?.size) break;
    }
    return stored;
  }

  /**
   * Asks the witness; returns the cosigned note per size. The answer is peer data: a note is kept
   * only if it is the note held with a valid witness cosignature appended.
   */
  private async ask(endpoint: string, origin: string, witness: Witness, missing: StoredCheckpoint[]): Promise<Map<number, string>> {
    const body = await this.deps.client.post(endpoint, federationPaths.cosignatures(), { origin, checkpoints: missing.map((cp) => cp.note) }, this.deps.signal());
    const answers = parseCosignResponse(body, missing.length);
    const out = new Map<number, string>();
    if (answers === undefined) {
      this.deps.logger.warn({ witness: witness.name }, 'the witness answered a cosignature request with a malformed response');
      return out;
    }
    missing.forEach((cp, i) => {
      const answer = answers[i]!;
      if (answer.status === 'cosigned' && answer.note.startsWith(cp.note) && isCosigned(answer.note, witness)) {
        out.set(cp.size, answer.note);
      } else if (answer.status === 'refused' && !this.refused.has(`${origin}/${cp.size}`) && this.refused.size < 1000) {
        this.refused.add(`${origin}/${cp.size}`);
        this.deps.logger.error({ origin, size: cp.size, reason: answer.reason }, 'the witness refused to cosign a checkpoint this node holds');
      }
    });
    return out;
  }
}
