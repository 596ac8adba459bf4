/**
 * Operational endpoints: liveness and readiness. Unauthenticated by design. /readyz says ready
 * only when the node has started and its database answers now (a PostgreSQL server restarting or
 * unreachable: 503 `database_unavailable`, so a load balancer sends the checks elsewhere).
 */
import { Hono } from 'hono';
import type { AppEnv } from './env.js';

export interface OpsInfo {
  member: string;
  version: string;
  ready: () => boolean;
  /** Whether the database answers, within a deadline (store/database.ts `reachable`); assumed when absent. */
  databaseReachable?: (() => Promise<boolean>) | undefined;
}

export function opsRoutes(info: OpsInfo): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok', member: info.member, version: info.version }));
  app.get('/readyz', async (c) => {
    if (!info.ready()) return c.json({ status: 'starting' }, 503);
    if (info.databaseReachable && !(await info.databaseReachable())) return c.json({ status: 'database_unavailable' }, 503);
    return c.json({ status: 'ready' });
  });
  return app;
}
