/**
 * The identifier budgets of the routes that can reveal whether an identifier is listed, per API
 * key (docs/SECURITY.md, "Limits"). A caller that can test identifiers at will can enumerate them
 * (every mobile number of a country is a few billion tests), so each key gets a token bucket per
 * route family: `limits.check` for `POST /v1/check`, `limits.watch` for `PUT /v1/watch` (a watched
 * reference that matches a listing gets an event at once, which `GET /v1/events` shows, so a watch
 * is a check by another name).
 *
 * The cost of a request is the number of values it tests, not 1 per request: enumeration costs
 * one test per candidate value, and one request may carry many. Runs after authentication (the
 * bucket is the key's, so one key cannot spend another's) and before validation, so it counts what
 * the body holds; a body of the wrong shape costs 1 (it is refused with 400 anyway), and no request
 * costs more than the most a valid one can carry. A refused request is answered 429 before the
 * route does anything, so it writes nothing.
 */
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';
import type { Scope } from '../service/api-keys.js';
import type { RateLimiter } from '../common/rate-limiter.js';
import type { AppEnv } from './env.js';

export interface IdentifierBudgetOptions {
  limiter: RateLimiter;
  /** Scopes whose keys are not limited (`limits.<route>.exemptScopes`, none by default). */
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

/** The most identifiers one valid watch request can enrol. */
export function maxWatchCost(maxReferences: number, maxIdentifiersPerRequest: number): number {
  return maxReferences * maxIdentifiersPerRequest;
}

/** The number of identifiers a `PUT /v1/watch` body enrols (each is tested against every listing), between 1 and `maxCost`. */
export function watchCost(body: unknown, maxCost: number): number {
  if (typeof body !== 'object' || body === null) return 1;
  const { watch } = body as Record<string, unknown>;
  if (!Array.isArray(watch)) return 1;
  let n = 0;
  for (const item of watch as unknown[]) {
    const identifiers = typeof item === 'object' && item !== null ? (item as Record<string, unknown>).identifiers : undefined;
    n += Array.isArray(identifiers) ? identifiers.length : 0;
    // A body may hold more than a valid one can: stop counting once the cap is reached.
    if (n >= maxCost) return maxCost;
  }
  return Math.max(1, n);
}

/**
 * Charges the request's cost (`cost(body)`) to the key's bucket of `what` ("check", "watch"), or
 * answers 429 with Retry-After. No options: the route is not limited.
 */
export function identifierBudget(options: IdentifierBudgetOptions | undefined, what: string, cost: (body: unknown) => number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (!options || options.exemptScopes.includes(principal.scope)) return next();
    // hono keeps the body's text (requireJson decoded it strictly), so the validator after this
    // parses the same text again; a body that is not JSON is left for the validator to refuse.
    const body: unknown = await c.req.json().catch(() => undefined);
    const result = options.limiter.take(principal.keyId, cost(body));
    if (!result.ok) {
      const { ratePerSecond, burst } = options.limiter.limit;
      // Set on the context, so the error handler's response carries it.
      c.header('Retry-After', String(result.retryAfterSeconds));
      throw new AppError('rate_limited', `this API key has used its ${what} allowance (${ratePerSecond} identifiers per second, bursts of ${burst}); retry in ${result.retryAfterSeconds} s`);
    }
    await next();
  };
}

/** The budget of `POST /v1/check` (`limits.check`). */
export function checkRateLimit(options: IdentifierBudgetOptions | undefined, maxIdentifiersPerRequest: number): MiddlewareHandler<AppEnv> {
  const max = maxCheckCost(maxIdentifiersPerRequest);
  return identifierBudget(options, 'check', (body) => checkCost(body, max));
}

/** The budget of `PUT /v1/watch` (`limits.watch`). */
export function watchRateLimit(options: IdentifierBudgetOptions | undefined, maxReferences: number, maxIdentifiersPerRequest: number): MiddlewareHandler<AppEnv> {
  const max = maxWatchCost(maxReferences, maxIdentifiersPerRequest);
  return identifierBudget(options, 'watch', (body) => watchCost(body, max));
}
