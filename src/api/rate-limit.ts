/**
 * The rate limit of `POST /v1/check`, per API key (docs/SECURITY.md, "Limits"). A caller that can
 * test identifiers at will can enumerate them (every mobile number of a country is a few billion
 * checks), so each key gets a token bucket: `limits.check.ratePerSecond`, `limits.check.burst`.
 *
 * The cost of a check is the number of values it tests, identifiers plus tokens, not 1 per
 * request: enumeration costs one test per candidate value, and one request may carry many. Runs
 * after authentication (the bucket is the key's) and before validation, so it counts what the
 * body holds; a body that is not a check object costs 1 (it is refused with 400 anyway), and no
 * request costs more than the most a valid check can carry.
 */
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';
import type { Scope } from '../service/api-keys.js';
import type { RateLimiter } from '../service/rate-limiter.js';
import type { AppEnv } from './env.js';

export interface CheckRateLimitOptions {
  limiter: RateLimiter;
  /** Scopes whose keys are not limited (`limits.check.exemptScopes`, none by default). */
  exemptScopes: readonly Scope[];
}

/** The most values one valid check can test: identifiers, plus tokens (up to 4 per identifier). */
export function maxCheckCost(maxIdentifiersPerRequest: number): number {
  return maxIdentifiersPerRequest * 5;
}

/** The number of values a check body tests, between 1 and `maxCost`. */
export function checkCost(body: unknown, maxCost: number): number {
  if (typeof body !== 'object' || body === null) return 1;
  const { identifiers, tokens } = body as Record<string, unknown>;
  const n = (Array.isArray(identifiers) ? identifiers.length : 0) + (Array.isArray(tokens) ? tokens.length : 0);
  return Math.min(maxCost, Math.max(1, n));
}

export function checkRateLimit(options: CheckRateLimitOptions | undefined, maxIdentifiersPerRequest: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (!options || options.exemptScopes.includes(principal.scope)) return next();
    // hono keeps the parsed body, so the validator after this reads the same object; a body that
    // is not JSON is left for the validator to refuse.
    const body: unknown = await c.req.json().catch(() => undefined);
    const result = options.limiter.take(principal.keyId, checkCost(body, maxCheckCost(maxIdentifiersPerRequest)));
    if (!result.ok) {
      const { ratePerSecond, burst } = options.limiter.limit;
      // Set on the context, so the error handler's response carries it.
      c.header('Retry-After', String(result.retryAfterSeconds));
      throw new AppError(
        'rate_limited',
        `this API key has used its check allowance (${ratePerSecond} identifiers per second, bursts of ${burst}); retry in ${result.retryAfterSeconds} s`,
      );
    }
    await next();
  };
}
