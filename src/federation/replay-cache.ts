/**
 * Replay protection for signed federation requests (RFC 9421 §7.2.2 leaves replay prevention to the
 * application; the `nonce` parameter, §2.3, is how a verifier recognises a repeated signature).
 *
 * A (keyid, nonce) pair is remembered until `created + windowSeconds`; after that the `created`
 * skew check in `verifyRequest` rejects the signature anyway, so `windowSeconds` must be at least
 * the verifier's `maxSkewSeconds`. A signature already older than the window is refused here too,
 * so a misconfigured (too short) window fails closed instead of opening a replay gap.
 *
 * Memory is bounded by `maxEntries`. When the cache is full of live entries it refuses new ones
 * rather than grow or forget a live nonce (forgetting would re-open a replay). Only signatures that
 * already verified against a roster key reach the cache, so a flood of fresh entries can only come
 * from members, whose request rate is limited elsewhere; refusing (returning false) is fail-closed.
 *
 * Time is passed in on every call (unix seconds), so tests drive the clock.
 */

interface Entry {
  expiresAt: number;
  key: string;
}

export interface ReplayCacheOptions {
  windowSeconds: number;
  maxEntries: number;
}

export class ReplayCache {
  private readonly windowSeconds: number;
  private readonly maxEntries: number;
  private readonly live = new Map<string, number>();
  /** A binary min-heap on `expiresAt`, so eviction pops only what has expired. */
  private readonly heap: Entry[] = [];

  constructor(opts: ReplayCacheOptions) {
    if (!(Number.isFinite(opts.windowSeconds) && opts.windowSeconds > 0)) throw new RangeError('windowSeconds must be a positive number');
    if (!(Number.isSafeInteger(opts.maxEntries) && opts.maxEntries > 0)) throw new RangeError('maxEntries must be a positive integer');
    this.windowSeconds = opts.windowSeconds;
    this.maxEntries = opts.maxEntries;
  }

  /** Live entries (after the last eviction). */
  get size(): number {
    return this.live.size;
  }

  /**
   * True if (keyId, nonce) has not been seen within the window: it is now remembered.
   * False for a replay, for a signature older than the window, or when the cache is full.
   */
  checkAndRemember(keyId: string, nonce: string, created: number, now: number): boolean {
    this.evict(now);
    const expiresAt = created + this.windowSeconds;
    if (!(expiresAt > now)) return false;
    // Length-prefixed so that no (keyId, nonce) pair can collide with another.
    const key = `${keyId.length}:${keyId}${nonce}`;
    if (this.live.has(key)) return false;
    if (this.live.size >= this.maxEntries) return false;
    this.live.set(key, expiresAt);
    this.push({ expiresAt, key });
    return true;
  }

  private evict(now: number): void {
    for (let top = this.heap[0]; top !== undefined && top.expiresAt <= now; top = this.heap[0]) {
      this.pop();
      this.live.delete(top.key);
    }
  }

  private push(entry: Entry): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as Entry;
      if (p.expiresAt <= entry.expiresAt) break;
      h[i] = p;
      i = parent;
    }
    h[i] = entry;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const child = r < h.length && (h[r] as Entry).expiresAt < (h[l] as Entry).expiresAt ? r : l;
      const c = h[child] as Entry;
      if (c.expiresAt >= last.expiresAt) break;
      h[i] = c;
      i = child;
    }
    h[i] = last;
  }
}
