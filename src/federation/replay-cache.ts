/**
 * Replay protection for signed federation requests (RFC 9421 §7.2.2 leaves replay prevention to the
 * application; the `nonce` parameter, §2.3, is how a verifier recognises a repeated signature).
 *
 * A (keyid, nonce) pair is remembered until `created + windowSeconds`; after that the `created`
 * skew check in `verifyRequest` rejects the signature anyway, so `windowSeconds` must be more than
 * the verifier's `maxSkewSeconds`. A signature already older than the window is refused here too,
 * so a misconfigured (too short) window fails closed instead of opening a replay gap.
 *
 * Memory is bounded per key id (member): each member has its own quota of `maxEntriesPerKey` live
 * nonces, so one member filling its share never refuses another's requests (docs/SECURITY.md,
 * "A member floods the federation API"). A member whose share is full of live nonces is refused
 * rather than a live nonce forgotten (forgetting would re-open a replay). Callers ask `seen` first
 * and `remember` only once every limit has admitted the request, so a refused request holds no slot.
 *
 * Time is passed in on every call (unix seconds), so tests drive the clock.
 */

interface Entry {
  expiresAt: number;
  keyId: string;
  key: string;
}

export interface ReplayCacheOptions {
  /** Seconds after `created` that a nonce is remembered: more than the verifier's skew. */
  windowSeconds: number;
  /** Live nonces one key id (member) may hold at once. */
  maxEntriesPerKey: number;
}

/** `remembered`: admitted; `replayed`: seen within the window; `expired`: older than the window; `quota`: the member's share is full. */
export type RememberResult = 'remembered' | 'replayed' | 'expired' | 'quota';

export class ReplayCache {
  readonly windowSeconds: number;
  private readonly maxEntriesPerKey: number;
  private readonly live = new Map<string, number>();
  /** Live nonces per key id; a key id with none has no entry. */
  private readonly perKey = new Map<string, number>();
  /** A binary min-heap on `expiresAt` over every key id, so eviction pops only what has expired. */
  private readonly heap: Entry[] = [];

  constructor(opts: ReplayCacheOptions) {
    if (!(Number.isFinite(opts.windowSeconds) && opts.windowSeconds > 0)) throw new RangeError('windowSeconds must be a positive number');
    if (!(Number.isSafeInteger(opts.maxEntriesPerKey) && opts.maxEntriesPerKey > 0)) throw new RangeError('maxEntriesPerKey must be a positive integer');
    this.windowSeconds = opts.windowSeconds;
    this.maxEntriesPerKey = opts.maxEntriesPerKey;
  }

  /** Live entries of every key id (after the last eviction). */
  get size(): number {
    return this.live.size;
  }

  /** Live entries of one key id (after the last eviction). */
  sizeOf(keyId: string): number {
    return this.perKey.get(keyId) ?? 0;
  }

  /** Whether (keyId, nonce) was remembered within the window. Remembers nothing. */
  seen(keyId: string, nonce: string, now: number): boolean {
    this.evict(now);
    return this.live.has(entryKey(keyId, nonce));
  }

  /** Remembers (keyId, nonce) until `created + windowSeconds` unless it is a replay, expired, or over the key id's quota. */
  remember(keyId: string, nonce: string, created: number, now: number): RememberResult {
    this.evict(now);
    const expiresAt = created + this.windowSeconds;
    if (!(expiresAt > now)) return 'expired';
    const key = entryKey(keyId, nonce);
    if (this.live.has(key)) return 'replayed';
    const held = this.perKey.get(keyId) ?? 0;
    if (held >= this.maxEntriesPerKey) return 'quota';
    this.live.set(key, expiresAt);
    this.perKey.set(keyId, held + 1);
    this.push({ expiresAt, keyId, key });
    return 'remembered';
  }

  private evict(now: number): void {
    for (let top = this.heap[0]; top !== undefined && top.expiresAt <= now; top = this.heap[0]) {
      this.pop();
      this.live.delete(top.key);
      const left = (this.perKey.get(top.keyId) ?? 1) - 1;
      if (left > 0) this.perKey.set(top.keyId, left);
      else this.perKey.delete(top.keyId);
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

/** Length-prefixed so that no (keyId, nonce) pair can collide with another. */
function entryKey(keyId: string, nonce: string): string {
  return `${keyId.length}:${keyId}${nonce}`;
}

/**
 * The per-member quota that a member within its rate limit never reaches: a nonce lives at most
 * `2 × maxSkew + 1` seconds (a `created` up to maxSkew ahead, remembered maxSkew + 1 after it), and
 * a token bucket admits at most `burst + rate × T` requests in any T seconds.
 */
export function nonceQuota(rate: { ratePerSecond: number; burst: number }, maxSkewSeconds: number): number {
  return rate.burst + Math.ceil(rate.ratePerSecond * (2 * maxSkewSeconds + 1));
}
