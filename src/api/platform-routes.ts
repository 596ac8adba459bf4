/**
 * The platform API: what a member platform's own services call. Handlers stay thin: the schema
 * validates, one service call does the work, the result is returned as it is.
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { ApiKeyService } from '../service/api-keys.js';
import type { CheckService } from '../service/checks.js';
import type { ListingService } from '../service/listings.js';
import type { Metrics } from '../metrics.js';
import type { AppEnv } from './env.js';
import { limitBody, requireJson, requireScope } from './middleware.js';
import { checkRateLimit, type IdentifierBudgetOptions } from './rate-limit.js';
import { checkResultSchema, checkSchema, createdListingSchema, createListingSchema, errorSchema, listingIdParam, listingSchema, retractSchema } from './schemas.js';
import { validationHook } from './validation.js';

export interface PlatformRoutesDeps {
  metrics?: Metrics | undefined;
  keys: ApiKeyService;
  listings: ListingService;
  checks: CheckService;
  maxBodyBytes: number;
  maxIdentifiersPerRequest: number;
  /** The per-key rate limit of /v1/check (`limits.check`); none when absent. */
  checkRateLimit?: IdentifierBudgetOptions | undefined;
}

const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { description: 'Error', content: { 'application/json': { schema: errorSchema } } }]));

const security = [{ apiKey: [] }];

export function platformRoutes(deps: PlatformRoutesDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  // Bound to each route's method: another method on these paths is an unknown route (404), not a
  // request for a JSON body (415).
  app.on('POST', '/v1/listings', requireScope(deps.keys, 'write'), limitBody(deps.maxBodyBytes), requireJson());
  app.on('POST', '/v1/listings/:id/retract', requireScope(deps.keys, 'write'), limitBody(deps.maxBodyBytes), requireJson());
  app.on('GET', '/v1/listings/:id', requireScope(deps.keys, 'write'));
  app.on('POST', '/v1/check', requireScope(deps.keys, 'check'), limitBody(deps.maxBodyBytes), requireJson(), checkRateLimit(deps.checkRateLimit, deps.maxIdentifiersPerRequest));

  const create = createRoute({
    method: 'post',
    path: '/v1/listings',
    summary: "List one of the platform's own severe bans",
    security,
    request: { body: { required: true, content: { 'application/json': { schema: createListingSchema(deps.maxIdentifiersPerRequest) } } } },
    responses: { 201: { description: 'Listed', content: { 'application/json': { schema: createdListingSchema } } }, ...errors(400, 401, 403, 413, 415, 503) },
  });
  app.openapi(create, async (c) => {
    const created = await deps.listings.create(c.req.valid('json'));
    deps.metrics?.countListing('listing');
    return c.json(created, 201);
  });

  const retract = createRoute({
    method: 'post',
    path: '/v1/listings/{id}/retract',
    summary: 'Retract a listing (e.g. after an upheld appeal)',
    security,
    request: { params: listingIdParam, body: { required: true, content: { 'application/json': { schema: retractSchema } } } },
    responses: { 200: { description: 'Retracted', content: { 'application/json': { schema: listingSchema } } }, ...errors(400, 401, 403, 404, 409, 413, 415, 503) },
  });
  app.openapi(retract, async (c) => {
    const retracted = await deps.listings.retract(c.req.valid('param').id, c.req.valid('json').reason);
    deps.metrics?.countListing('retraction');
    return c.json(retracted, 200);
  });

  const get = createRoute({
    method: 'get',
    path: '/v1/listings/{id}',
    summary: 'A listing and its status: active, retracted or expired',
    security,
    request: { params: listingIdParam },
    responses: { 200: { description: 'The listing', content: { 'application/json': { schema: listingSchema } } }, ...errors(401, 403, 404) },
  });
  app.openapi(get, async (c) => c.json(await deps.listings.get(c.req.valid('param').id), 200));

  const check = createRoute({
    method: 'post',
    path: '/v1/check',
    summary: 'Check identifiers (or tokens) against every active listing and apply the joint-penalty policy',
    security,
    request: { body: { required: true, content: { 'application/json': { schema: checkSchema(deps.maxIdentifiersPerRequest) } } } },
    responses: { 200: { description: 'The decision', content: { 'application/json': { schema: checkResultSchema } } }, ...errors(400, 401, 403, 413, 415, 429) },
  });
  app.openapi(check, async (c) => {
    const started = performance.now();
    const result = await deps.checks.check(c.req.valid('json'), { keyId: c.get('principal').keyId, receivedAt: c.get('receivedAt') });
    deps.metrics?.observeCheck(result.purpose, result.decision, (performance.now() - started) / 1000);
    return c.json(result, 200);
  });

  return app;
}
