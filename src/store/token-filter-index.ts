/**
 * What both engines' token indexes (sqlite/token-index.ts, postgres/token-index.ts) share: the
 * filter and its watermark, the warm-up from the snapshot file or from the database, and the
 * snapshot's writes. An adapter supplies the reads (the snapshot's fit, every token, the token at a
 * position) and its own `match`.
 */
import type { TokenIndexStats } from './token-index.js';
import { readTokenSnapshot, writeTokenSnapshot, type TokenSnapshot } from './token-snapshot.js';
import type { TokenFilter } from './token-filter.js';

export interface TokenSnapshotOptions {
  /** Where the token filter's snapshot is kept (token-snapshot.ts); none: no snapshot. */
  snapshotFile?: string | undefined;
  /** A missing snapshot only makes the next start slower: write errors go here. */
  onSnapshotError?: (err: Error) => void;
}

const NO_ANCHOR = new Uint8Array(16);

export abstract class TokenFilterIndex {
  /** The filter, once complete; undefined before the warm-up and after close. */
  protected tokens: TokenFilter | undefined;
  /** The highest position (rowid, seq) of `listing_tokens` the filter holds every row up to. */
  protected watermark = 0;
  protected closed = false;
  private source: TokenIndexStats['source'];
  /** The watermark of the snapshot file as last read or written. */
  private savedWatermark: number | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly snapshotOptions: TokenSnapshotOptions,
    private readonly engine: 'sqlite' | 'postgres',
  ) {}

  get warm(): boolean {
    return this.tokens !== undefined;
  }

  get stats(): TokenIndexStats {
    return { tokens: this.tokens?.size ?? 0, bytes: this.tokens?.bytes ?? 0, source: this.source };
  }

  close(): void {
    this.closed = true;
    this.tokens = undefined;
  }

  saveSnapshot(): Promise<void> {
    const file = this.snapshotOptions.snapshotFile;
    const filter = this.tokens;
    const watermark = this.watermark;
    if (file === undefined || filter === undefined || watermark === this.savedWatermark) return this.saving;
    this.savedWatermark = watermark;
    // Read now, at the watermark the file will carry; awaited in turn after any earlier write.
    const anchor = watermark > 0 ? this.anchorRead(watermark) : Promise.resolve(undefined);
    this.saving = this.saving
      .then(async () => {
        const snapshot: TokenSnapshot = { filter, watermark, anchor: (await anchor) ?? NO_ANCHOR };
        await writeTokenSnapshot(file, snapshot);
      })
      .catch((err: unknown) => this.snapshotOptions.onSnapshotError?.(err as Error));
    return this.saving;
  }

  /** The token at `position` (the snapshot's anchor). */
  protected abstract tokenAtPosition(position: number): Uint8Array | undefined | Promise<Uint8Array | undefined>;

  private anchorRead(position: number): Promise<Uint8Array | undefined> {
    let read: Promise<Uint8Array | undefined>;
    try {
      read = Promise.resolve(this.tokenAtPosition(position));
    } catch (err) {
      read = Promise.reject(err);
    }
    // Awaited later, inside the chain that reports errors: not an unhandled rejection meanwhile.
    read.catch(() => {});
    return read;
  }

  /**
   * One warm-up: the snapshot when `fits` says it fits the database, else every token from
   * `readAll`, then a snapshot of it. `ready` runs between reading the file and the database.
   * Resolves false when closed meanwhile.
   */
  protected async fill(
    ready: () => Promise<void>,
    fits: (snapshot: TokenSnapshot) => boolean | Promise<boolean>,
    readAll: () => Promise<{ filter: TokenFilter; watermark: number } | undefined>,
  ): Promise<boolean> {
    const file = this.snapshotOptions.snapshotFile;
    const snapshot = file === undefined ? undefined : await readTokenSnapshot(file);
    await ready();
    if (this.closed) return false;
    if (snapshot) {
      // SQLite's answer is synchronous: adopted in the same turn as its reads.
      const fit = fits(snapshot);
      if (fit instanceof Promise ? await fit : fit) {
        if (this.closed) return false;
        this.adopt(snapshot.filter, snapshot.watermark, 'snapshot');
        this.savedWatermark = snapshot.watermark;
        return true;
      }
    }
    const read = await readAll();
    if (read === undefined || this.closed) return false;
    this.adopt(read.filter, read.watermark, this.engine);
    void this.saveSnapshot();
    return true;
  }

  private adopt(filter: TokenFilter, watermark: number, source: TokenIndexStats['source']): void {
    this.tokens = filter;
    this.watermark = watermark;
    this.source = source;
  }
}
