/** Operational endpoints: liveness and the API description. Unauthenticated by design. */
import { Hono } from 'hono';
import type { AppEnv } from './env.js';

export function opsRoutes(info: { member: string; version: string; ready: () => boolean }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok', member: info.member, version: info.version }));
  app.get('/readyz', (c) => (info.ready() ? c.json({ status: 'ready' }) : c.json({ status: 'starting' }, 503)));
  return app;
}
