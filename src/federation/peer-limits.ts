/**
 * Limits on the federation API a node serves (docs/SECURITY.md, "Limits"): at most
 * `limits.peerConcurrency` requests in progress at once, from all peers together (503 beyond), and
 * per peer a token bucket of `limits.peerRatePerSecond` requests per second with bursts of
 * `limits.peerBurst` (429 beyond). Both answer with Retry-After.
 *
 * Mounted after peer authentication: only verified, active members reach these limits, so an
 * outsider cannot use up the slots honest peers need. What an outsider can send is bounded before
 * that by the body limit of peer authentication and by signature checks that stop at an unknown
 * key id. A refused peer's sync counts the refusal as a failed round and backs off
 * (`sync.backoffBaseMs` …); it never counts as misbehaviour.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { RateLimiter } from '../service/rate-limiter.js';
import type { PeerAuthEnv } from './peer-auth.js';

export interface PeerLimitsOptions {
  /** The most federation requests served at once (`limits.peerConcurrency`). */
  maxConcurrent: number;
  /** Requests per peer (`limits.peerRatePerSecond`, `limits.peerBurst`). */
  perPeer: RateLimiter;
}

/** What a refused peer is told to wait: a slot frees as soon as any request in progress ends. */
export const BUSY_RETRY_AFTER_SECONDS = 1;

function refuse(c: Context<PeerAuthEnv>, status: 429 | 503, code: string, message: string, retryAfter: number): Response {
  return c.json({ error: { code, message } }, status, { 'Retry-After': String(retryAfter) });
}

export function peerLimits(options: PeerLimitsOptions): MiddlewareHandler<PeerAuthEnv> {
  let inFlight = 0;
  return async (c, next) => {
    // Busy first: a request refused for want of a slot does not use up the peer's allowance.
    if (inFlight >= options.maxConcurrent) {
      return refuse(c, 503, 'unavailable', `this node is serving ${options.maxConcurrent} federation requests already`, BUSY_RETRY_AFTER_SECONDS);
    }
    const rate = options.perPeer.take(c.get('peer'), 1);
    if (!rate.ok) {
      return refuse(c, 429, 'rate_limited', `too many requests from this member; retry in ${rate.retryAfterSeconds} s`, rate.retryAfterSeconds);
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
}
