/**
 * Counts the identifier tests this node serves, per UTC day, kind and API key, for the audit
 * report: checks (one kind per purpose) and watch enrolments (`watch`: a watched reference that
 * matches gets an event at once, so enrolling is testing). Each row keeps the requests, the
 * identifiers they tested (what enumeration costs, and what the `check_volume_jump` anomaly
 * counts) and the hits (checks answered review or deny; match events a watch recorded).
 * Counting is an in-memory increment: the check path must not take a write transaction (SQLite
 * has one writer, and listings and sync need it). The counts are added to the database by
 * `flush()`, every `intervalMs` while the node runs and once more when it stops; a crash loses at
 * most the counts of the last interval.
 */
import type { Logger } from 'pino';
import { PURPOSES, type Purpose } from '../policy/index.js';
import type { CheckCountDelta, CheckCountRepository } from '../store/check-count-repository.js';

/** How often counts are written while the node runs. */
export const CHECK_COUNT_FLUSH_MS = 5_000;

/** The key id recorded for checks made without an API key (the CLI, in-process calls). */
export const NO_KEY_ID = '';

/** What is counted: a check, by its purpose, or a watch enrolment. */
export type CountedKind = Purpose | 'watch';
export const COUNTED_KINDS: readonly CountedKind[] = [...PURPOSES, 'watch'];

export interface CheckRecorder {
  /** One request served: `identifiers` tested, `hits` of them (a check: 1 for review or deny). */
  record(kind: CountedKind, keyId: string | undefined, identifiers: number, hits: number): void;
}

export interface CheckCounterDeps {
  repo: CheckCountRepository;
  now: () => Date;
  logger: Logger;
  intervalMs?: number;
}

export class CheckCounter implements CheckRecorder {
  private pending = new Map<string, CheckCountDelta>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: CheckCounterDeps) {}

  /** Called once per request served (a check, a watch enrolment). */
  record(kind: CountedKind, keyId: string | undefined, identifiers: number, hits: number): void {
    const day = this.deps.now().toISOString().slice(0, 10);
    const key = keyId ?? NO_KEY_ID;
    // Day, kind and key id never contain a tab (a date, an enum, a base64url id).
    const slot = `${day}\t${kind}\t${key}`;
    let delta = this.pending.get(slot);
    if (!delta) {
      delta = { day, purpose: kind, keyId: key, served: 0, identifiers: 0, hits: 0 };
      this.pending.set(slot, delta);
    }
    delta.served++;
    delta.identifiers += identifiers;
    delta.hits += hits;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.flush().catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'check counts not flushed; retrying next interval'));
    }, this.deps.intervalMs ?? CHECK_COUNT_FLUSH_MS);
    this.timer.unref();
  }

  /** Stops the timer and writes what is left. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /**
   * Writes the counts gathered so far. Flushes run one after another; counts that fail to be
   * written are put back, so a transient error (a busy database) delays them but loses nothing.
   */
  flush(): Promise<void> {
    const run = this.flushing.catch(() => undefined).then(() => this.write());
    this.flushing = run;
    return run;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.deps.repo.add([...batch.values()]);
    } catch (err) {
      for (const [slot, d] of batch) {
        const now = this.pending.get(slot);
        if (now) {
          now.served += d.served;
          now.identifiers += d.identifiers;
          now.hits += d.hits;
        } else this.pending.set(slot, d);
      }
      throw err;
    }
  }
}
