/**
 * Limits on the federation API a node serves (docs/SECURITY.md, "Limits"): at most
 * `limits.peerConcurrency` requests in progress at once, from all peers together (503 beyond), and
 * per peer a token bucket of `limits.peerRatePerSecond` requests per second with bursts of
 * `limits.peerBurst` (429 beyond). Both answer with Retry-After.
 *
 * Applied by peer authentication (peer-auth.ts) after the signature verified and before the
 * request's nonce is remembered: only verified, active members reach these limits, so an outsider
 * cannot use up the slots honest peers need, and a refused request holds no replay-cache slot.
 * A refused peer's sync counts the refusal as a failed round and backs off
 * (`sync.backoffBaseMs` …); it never counts as misbehaviour.
 */
import type { RateLimiter } from '../common/rate-limiter.js';

export interface PeerLimitsOptions {
  /** The most federation requests served at once (`limits.peerConcurrency`). */
  maxConcurrent: number;
  /** Requests per peer (`limits.peerRatePerSecond`, `limits.peerBurst`). */
  perPeer: RateLimiter;
}

/** What a refused peer is told to wait: a slot frees as soon as any request in progress ends. */
export const BUSY_RETRY_AFTER_SECONDS = 1;

export interface PeerRefusal {
  status: 429 | 503;
  code: 'rate_limited' | 'unavailable';
  message: string;
  retryAfterSeconds: number;
}

export class PeerLimits {
  private inFlight = 0;

  constructor(private readonly options: PeerLimitsOptions) {}

  /**
   * Whether the peer may be served now; takes one of its tokens if so. Busy first: a request refused
   * for want of a slot does not use up the peer's allowance. Pair an admitted request with `enter`.
   */
  admit(peer: string): PeerRefusal | undefined {
    if (this.inFlight >= this.options.maxConcurrent) {
      return { status: 503, code: 'unavailable', message: `this node is serving ${this.options.maxConcurrent} federation requests already`, retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS };
    }
    const rate = this.options.perPeer.take(peer, 1);
    if (!rate.ok) {
      return { status: 429, code: 'rate_limited', message: `too many requests from this member; retry in ${rate.retryAfterSeconds} s`, retryAfterSeconds: rate.retryAfterSeconds };
    }
    return undefined;
  }

  /** Runs an admitted request while holding one of the concurrency slots. */
  async enter<T>(serve: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await serve();
    } finally {
      this.inFlight--;
    }
  }
}
