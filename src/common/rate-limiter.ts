/**
 * Token buckets, one per caller (an API key id, a peer's member id), kept in memory. Pure: the
 * clock is handed in, so the arithmetic is tested without waiting and the node's own clock (the
 * one tests replace) decides. Used for `/v1/check` (api/rate-limit.ts) and for peer requests
 * (federation/peer-limits.ts); docs/SECURITY.md says what each limit is for.
 *
 * A bucket holds at most `burst` tokens and refills at `ratePerSecond`. A request of cost c is
 * served when the bucket holds min(c, burst) tokens and then takes all c of them, so a request
 * larger than the whole bucket is served on a full bucket and leaves it in debt: over any span T
 * the callers of one bucket get at most burst + ratePerSecond × T + (one request's cost) served,
 * whatever the request sizes, and no configuration of sizes can make a valid request unservable.
 */

export interface RateLimit {
  /** Tokens added per second (may be fractional: 0.5 is one every two seconds). */
  ratePerSecond: number;
  /** The most tokens a bucket holds: what an idle caller may spend at once. */
  burst: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  /** Milliseconds, from the injected clock, of the last refill. */
  at: number;
}

/**
 * How many callers' buckets are kept at most. Callers are API keys and roster members, which an
 * administrator creates one by one, so real nodes stay far below this; it exists so that no
 * sequence of callers can grow memory without bound.
 */
export const MAX_BUCKETS = 10_000;

export class RateLimiter {
  // Map order is least recently used first: take() moves a caller's bucket to the end.
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxBuckets: number;

  constructor(
    readonly limit: RateLimit,
    /** Milliseconds; a clock that goes back is treated as standing still. */
    private readonly nowMs: () => number,
    options: { maxBuckets?: number } = {},
  ) {
    if (!(limit.ratePerSecond > 0) || !(limit.burst >= 1)) throw new RangeError('a rate limit needs ratePerSecond > 0 and burst >= 1');
    this.maxBuckets = options.maxBuckets ?? MAX_BUCKETS;
  }

  /** Takes `cost` tokens (≥ 1) from the caller's bucket, or says how long to wait before asking again. */
  take(caller: string, cost: number): TakeResult {
    const now = this.nowMs();
    const bucket = this.refilled(caller, now);
    const needed = Math.min(Math.max(1, cost), this.limit.burst);
    if (bucket.tokens >= needed) {
      bucket.tokens -= Math.max(1, cost);
      this.store(caller, bucket, now);
      return { ok: true };
    }
    this.store(caller, bucket, now);
    // Whole seconds, at least 1: Retry-After carries integer seconds, and 0 would invite a retry
    // loop that can only fail again.
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((needed - bucket.tokens) / this.limit.ratePerSecond)) };
  }

  /** The tokens a caller holds now (a caller never seen holds a full bucket). */
  available(caller: string): number {
    const bucket = this.buckets.get(caller);
    return bucket ? this.refill(bucket, this.nowMs()).tokens : this.limit.burst;
  }

  /** How many buckets are held: a test's view of the memory bound. */
  get size(): number {
    return this.buckets.size;
  }

  private refill(bucket: Bucket, now: number): Bucket {
    const elapsed = Math.max(0, now - bucket.at);
    // Rounded to 1e-9 of a token: refills added piece by piece (each refused request stores one)
    // must add up to what one refill over the whole time gives, not a float's hair less.
    const tokens = Math.round((bucket.tokens + (elapsed * this.limit.ratePerSecond) / 1000) * 1e9) / 1e9;
    return { tokens: Math.min(this.limit.burst, tokens), at: Math.max(now, bucket.at) };
  }

  private refilled(caller: string, now: number): Bucket {
    const bucket = this.buckets.get(caller);
    return bucket ? this.refill(bucket, now) : { tokens: this.limit.burst, at: now };
  }

  private store(caller: string, bucket: Bucket, now: number): void {
    this.buckets.delete(caller);
    this.buckets.set(caller, bucket);
    this.evict(now);
  }

  /**
   * Drops buckets that have refilled completely: a full bucket behaves exactly like no bucket, so
   * forgetting it changes no answer. Walks from the least recently used and stops at the first
   * that is not full, so each call does little work. Only if that leaves too many is the least
   * recently used dropped anyway (its caller then starts again from a full bucket).
   */
  private evict(now: number): void {
    for (const [caller, bucket] of this.buckets) {
      if (this.refill(bucket, now).tokens < this.limit.burst) break;
      this.buckets.delete(caller);
    }
    while (this.buckets.size > this.maxBuckets) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) break;
      this.buckets.delete(oldest);
    }
  }
}
