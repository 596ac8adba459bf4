/**
 * The hono application of a node: every sub-app mounted in one place, one error handler, one
 * not-found handler, and the OpenAPI document generated from the route schemas.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { ApiKeyService } from '../service/api-keys.js';
import type { CheckService } from '../service/checks.js';
import type { ListingService } from '../service/listings.js';
import type { AppEnv } from './env.js';
import { notFound, onError } from './errors.js';
import { requestContext } from './middleware.js';
import type { Metrics } from '../metrics.js';
import { opsRoutes } from './ops-routes.js';
import { platformRoutes } from './platform-routes.js';
import type { IdentifierBudgetOptions } from './rate-limit.js';
import { validationHook } from './validation.js';

export interface AppDeps {
  metrics?: Metrics | undefined;
  logger: Logger;
  member: string;
  version: string;
  keys: ApiKeyService;
  listings: ListingService;
  checks: CheckService;
  maxBodyBytes: number;
  maxIdentifiersPerRequest: number;
  /** The per-key rate limit of /v1/check; none when absent. */
  checkRateLimit?: IdentifierBudgetOptions | undefined;
  ready: () => boolean;
  /** Whether the database answers now (/readyz); assumed when absent. */
  databaseReachable?: (() => Promise<boolean>) | undefined;
  /** Mounts further sub-apps (status, the federation API) after the platform routes. */
  mount?: ((app: OpenAPIHono<AppEnv>) => void)[];
}

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.use('*', requestContext(deps.logger));
  app.onError(onError);
  app.notFound(notFound);
  app.route('/', opsRoutes({ member: deps.member, version: deps.version, ready: deps.ready, databaseReachable: deps.databaseReachable }));
  app.route('/', platformRoutes(deps));
  for (const mount of deps.mount ?? []) mount(app);
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer', description: 'jb_… API key' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'jointban node', version: deps.version, description: `Platform API of member ${deps.member}` },
  });
  return app;
}
