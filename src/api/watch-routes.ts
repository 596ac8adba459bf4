/**
 * The watchlist and its events (docs/EVENTS.md): `PUT /v1/watch`, `DELETE /v1/watch/{reference}`,
 * `GET /v1/events` (scope write: the platform's back office that lists bans also acts on events)
 * and `POST /v1/events/dead-letters/redrive` (scope admin: an operator's decision).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { IDENTIFIER_TYPES } from '../identifiers/types.js';
import type { ApiKeyService } from '../service/api-keys.js';
import { LIFT_REASONS, MAX_EVENTS_PAGE, MAX_WATCH_BATCH, type WatchService } from '../service/watch.js';
import type { AppEnv } from './env.js';
import { limitBody, requireJson, requireScope } from './middleware.js';
import { watchRateLimit, type IdentifierBudgetOptions } from './rate-limit.js';
import { errorSchema, identifierSchema, referenceSchema } from './schemas.js';
import { validationHook } from './validation.js';

export interface WatchRoutesDeps {
  keys: ApiKeyService;
  watch: WatchService;
  maxBodyBytes: number;
  maxIdentifiersPerRequest: number;
  /** The per-key identifier budget of PUT /v1/watch (`limits.watch`); none when absent. */
  watchRateLimit?: IdentifierBudgetOptions | undefined;
}

const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { description: 'Error', content: { 'application/json': { schema: errorSchema } } }]));

const security = [{ apiKey: [] }];

const decisionSchema = z
  .object({
    decision: z.enum(['allow', 'review', 'deny']),
    penalties: z.array(z.object({ action: z.string(), until: z.string().nullable(), rule: z.string() })),
    rules: z.array(z.string()),
  })
  .openapi('WatchDecision');

const eventSchema = z
  .object({
    id: z.string().openapi({ description: 'The cursor: pass it as `after` to read the events after this one.' }),
    kind: z.enum(['match', 'lift']),
    reference: z.string(),
    listingId: z.string(),
    origin: z.string(),
    category: z.string(),
    identifierTypes: z.array(z.enum(IDENTIFIER_TYPES)),
    time: z.string(),
    reason: z.enum(LIFT_REASONS).optional().openapi({ description: 'Lifts only: why the listing stopped counting.' }),
    registration: decisionSchema,
    monetization: decisionSchema,
    matches: z.array(
      z.object({
        listingId: z.string(),
        origin: z.string(),
        category: z.string(),
        identifierType: z.enum(IDENTIFIER_TYPES),
        bannedAt: z.string(),
        banUntil: z.string().nullable(),
        expiresAt: z.string(),
      }),
    ),
  })
  .openapi('WatchEvent');

export function watchRoutes(deps: WatchRoutesDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.on('PUT', '/v1/watch', requireScope(deps.keys, 'write'), limitBody(deps.maxBodyBytes), requireJson(), watchRateLimit(deps.watchRateLimit, MAX_WATCH_BATCH, deps.maxIdentifiersPerRequest));
  app.on('DELETE', '/v1/watch/:reference', requireScope(deps.keys, 'write'));
  app.on('GET', '/v1/events', requireScope(deps.keys, 'write'));
  app.on('POST', '/v1/events/dead-letters/redrive', requireScope(deps.keys, 'admin'));

  const put = createRoute({
    method: 'put',
    path: '/v1/watch',
    summary: "Watch the platform's existing accounts: tokens only, replacing a reference's earlier tokens",
    security,
    request: {
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z
              .strictObject({
                watch: z
                  .array(z.strictObject({ reference: referenceSchema, identifiers: z.array(identifierSchema).min(1).max(deps.maxIdentifiersPerRequest) }))
                  .min(1)
                  .max(MAX_WATCH_BATCH),
              })
              .openapi('Watch'),
          },
        },
      },
    },
    responses: {
      200: {
        description:
          "Watched (validated and charged to the key's identifier budget all or nothing, then written in chunks of 50 references); `events` match events were recorded for active listings the accounts already match",
        content: { 'application/json': { schema: z.object({ watched: z.number().int(), events: z.number().int() }) } },
      },
      ...errors(400, 401, 403, 413, 415, 429),
    },
  });
  app.openapi(put, async (c) => c.json(await deps.watch.put(c.req.valid('json').watch, { keyId: c.get('principal').keyId }), 200));

  const remove = createRoute({
    method: 'delete',
    path: '/v1/watch/{reference}',
    summary: 'Stop watching an account (idempotent: 204 whether or not it was watched)',
    security,
    request: { params: z.object({ reference: referenceSchema.openapi({ param: { name: 'reference', in: 'path' }, example: 'user-42' }) }) },
    responses: { 204: { description: 'Not watched any more' }, ...errors(400, 401, 403) },
  });
  app.openapi(remove, async (c) => {
    await deps.watch.remove(c.req.valid('param').reference);
    return c.body(null, 204);
  });

  const events = createRoute({
    method: 'get',
    path: '/v1/events',
    summary: 'Events about watched accounts, oldest first, after a cursor',
    security,
    request: {
      query: z.object({
        after: z.string().max(32).optional().openapi({ description: 'The `next` of the previous page; absent to start from the oldest event kept.' }),
        limit: z
          .string()
          .regex(/^\d{1,4}$/, `must be an integer from 1 to ${MAX_EVENTS_PAGE}`)
          .refine((v) => Number(v) >= 1 && Number(v) <= MAX_EVENTS_PAGE, `must be an integer from 1 to ${MAX_EVENTS_PAGE}`)
          .optional()
          .openapi({ description: `Events per page, 1 to ${MAX_EVENTS_PAGE} (default 100).` }),
      }),
    },
    responses: {
      200: { description: 'A page of events', content: { 'application/json': { schema: z.object({ events: z.array(eventSchema), next: z.string() }).openapi('EventPage') } } },
      ...errors(400, 401, 403),
    },
  });
  app.openapi(events, async (c) => {
    const query = c.req.valid('query');
    c.header('cache-control', 'no-store');
    return c.json(await deps.watch.events(query.after, query.limit === undefined ? 100 : Number(query.limit)), 200);
  });

  const redrive = createRoute({
    method: 'post',
    path: '/v1/events/dead-letters/redrive',
    summary: 'Put every dead-lettered event back in the webhook delivery queue',
    security,
    responses: { 200: { description: 'Redriven', content: { 'application/json': { schema: z.object({ redriven: z.number().int() }) } } }, ...errors(401, 403) },
  });
  app.openapi(redrive, async (c) => c.json({ redriven: await deps.watch.redrive() }, 200));

  return app;
}
