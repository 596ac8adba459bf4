/**
 * Counts the checks this node serves, per UTC day, purpose and API key, for the audit report.
 * Counting is an in-memory increment: the check path must not take a write transaction (SQLite
 * has one writer, and listings and sync need it). The counts are added to the database by
 * `flush()`, every `intervalMs` while the node runs and once more when it stops; a crash loses at
 * most the counts of the last interval.
 */
import type { Logger } from 'pino';
import type { Purpose } from '../policy/index.js';
import type { CheckCountDelta, CheckCountRepository } from '../store/check-count-repository.js';

/** How often counts are written while the node runs. */
export const CHECK_COUNT_FLUSH_MS = 5_000;

/** The key id recorded for checks made without an API key (the CLI, in-process calls). */
export const NO_KEY_ID = '';

export interface CheckRecorder {
  record(purpose: Purpose, hit: boolean, keyId: string | undefined): void;
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

  /** Called once per check served; `hit` is a review or deny decision. */
  record(purpose: Purpose, hit: boolean, keyId: string | undefined): void {
    const day = this.deps.now().toISOString().slice(0, 10);
    const key = keyId ?? NO_KEY_ID;
    // Day, purpose and key id never contain a tab (a date, an enum, a base64url id).
    const slot = `${day}\t${purpose}\t${key}`;
    let delta = this.pending.get(slot);
    if (!delta) {
      delta = { day, purpose, keyId: key, served: 0, hits: 0 };
      this.pending.set(slot, delta);
    }
    delta.served++;
    if (hit) delta.hits++;
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
          now.hits += d.hits;
        } else this.pending.set(slot, d);
      }
      throw err;
    }
  }
}
