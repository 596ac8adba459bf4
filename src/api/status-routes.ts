/** `GET /v1/federation/status` and `GET /metrics` (admin): peers, logs, lag, misbehaviour; Prometheus figures. */
import { Hono } from 'hono';
import type { FederationStatus } from '../federation/federation.js';
import type { ApiKeyService } from '../service/api-keys.js';
import type { Metrics } from '../metrics.js';
import type { AppEnv } from './env.js';
import { requireScope } from './middleware.js';

export function statusRoutes(keys: ApiKeyService, status: () => Promise<FederationStatus>, metrics?: Metrics): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/v1/federation/status', requireScope(keys, 'admin'), async (c) => c.json(await status()));
  // Volumes and peer names are operational data: scraping needs an admin key (Prometheus sends
  // it as a bearer token).
  if (metrics) {
    app.get('/metrics', requireScope(keys, 'admin'), async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  }
  return app;
}
