/** `GET /v1/federation/status` (admin): peers, each origin's size, checkpoint and lag, misbehaviour. */
import { Hono } from 'hono';
import type { FederationStatus } from '../federation/federation.js';
import type { ApiKeyService } from '../service/api-keys.js';
import type { AppEnv } from './env.js';
import { requireScope } from './middleware.js';

export function statusRoutes(keys: ApiKeyService, status: () => Promise<FederationStatus>): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/v1/federation/status', requireScope(keys, 'admin'), async (c) => c.json(await status()));
  return app;
}
