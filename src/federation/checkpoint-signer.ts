/**
 * Signs checkpoints of the node's own log, batched: one Ed25519 signature covers every entry
 * appended since the last one. `intervalMs` bounds how often, not how late: an entry appended after
 * a quiet interval is signed at once (on the next turn of the event loop, so the appends of one
 * tick share it), one appended sooner waits for the interval since the last signing to end, and
 * `maxEntries` pending entries are signed at once. So a burst of listings costs one signature per
 * interval, and a lone listing reaches peers without waiting for a timer (docs/BENCHMARKS.md,
 * "Propagation").
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { logOrigin, signCheckpoint } from '../log/checkpoint.js';
import { decodeEntry } from '../log/entry.js';
import { CheckpointRepository } from '../store/checkpoint-repository.js';
import { LogReader } from '../store/log-repository.js';
import { rootAt } from '../store/proofs.js';
import type { Database } from '../store/tables.js';

export interface SignedCheckpoint {
  /** Member id of the log. */
  origin: string;
  size: number;
  note: string;
}

export interface CheckpointSignerDeps {
  db: Kysely<Database>;
  member: string;
  federation: string;
  /**
   * The key to sign a checkpoint whose last entry is dated `time` with (signing-keys.ts), or
   * undefined when the roster makes none of the node's keys valid then: nothing is signed.
   */
  keyFor: (time: string | undefined) => Uint8Array | undefined;
  intervalMs: number;
  maxEntries: number;
  now: () => Date;
  logger: Logger;
  onSigned: (cp: SignedCheckpoint) => void;
  /** Set on the association's node, which witnesses its own log too. */
  cosign?: ((note: string) => string) | undefined;
}

/** Why the signer is not signing: the log has entries no key of this node may sign. */
export interface SigningRefusal {
  /** The size of the log it would sign. */
  size: number;
  /** The time of the last entry, which picks the key. */
  time: string | null;
  since: string;
  message: string;
}

export class CheckpointSigner {
  private signedSize = -1;
  private refused: SigningRefusal | undefined;
  /** `Date.now()` when the last signing began; the next may begin `intervalMs` later. */
  private lastSigningAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly deps: CheckpointSignerDeps) {}

  /** Signs a checkpoint for whatever the log holds now if none covers it (e.g. after a crash). */
  async start(): Promise<void> {
    const latest = await new CheckpointRepository(this.deps.db).latest(this.deps.member);
    this.signedSize = latest?.size ?? -1;
    await this.flush();
  }

  /** Called after each committed append to the own log. */
  noteAppend(size: number): void {
    if (this.stopped) return;
    if (size - Math.max(this.signedSize, 0) >= this.deps.maxEntries) {
      void this.flush();
      return;
    }
    const wait = Math.max(0, this.lastSigningAt + this.deps.intervalMs - Date.now());
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
  }

  /** Signs now if the log grew since the last checkpoint; resolves when done. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.chain = this.chain
      .then(() => this.signIfNeeded())
      .catch((err: unknown) => {
        this.deps.logger.error({ err }, 'signing a checkpoint failed');
      });
    return this.chain;
  }

  /** Set while the log holds entries the signer refuses to sign (status and health show it). */
  get refusal(): SigningRefusal | undefined {
    return this.refused;
  }

  async stop(): Promise<void> {
    await this.flush();
    this.stopped = true;
  }

  private async signIfNeeded(): Promise<void> {
    const { deps } = this;
    const log = new LogReader(deps.db);
    const size = await log.size(deps.member);
    if (size <= this.signedSize) return;
    this.lastSigningAt = Date.now();
    const origin = logOrigin(deps.federation, deps.member);
    const root = await rootAt(log, deps.member, size);
    // The checkpoint's time is its last entry's (PROTOCOL.md, "Key history"): it picks the key.
    const last = size > 0 ? await log.entry(deps.member, size) : undefined;
    const decoded = last ? decodeEntry(last.bytes) : undefined;
    const time = decoded?.ok ? decoded.entry.time : undefined;
    const secretKey = deps.keyFor(time);
    if (secretKey === undefined) {
      // Not signed, not stored: the next roster (or append) tries again. signing-keys.ts logs it.
      this.refused = {
        size,
        time: time ?? null,
        since: this.refused?.since ?? deps.now().toISOString(),
        message: `the roster lists none of this node's keys as valid at ${time ?? 'the start of the log'}: checkpoints stop at size ${Math.max(this.signedSize, 0)}; install the key the roster lists (keys/node.key.next) or ask the association to list this node's key`,
      };
      return;
    }
    this.refused = undefined;
    const signed = signCheckpoint({ origin, size, root }, { name: origin, secretKey });
    const note = deps.cosign ? deps.cosign(signed) : signed;
    await new CheckpointRepository(deps.db).insert({ origin: deps.member, size, root, note }, deps.now().toISOString());
    this.signedSize = size;
    deps.logger.debug({ origin: deps.member, size }, 'checkpoint signed');
    deps.onSigned({ origin: deps.member, size, note });
  }
}
