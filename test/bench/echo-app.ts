/**
 * The benchmark's baseline: a bare hono app whose one route parses a JSON body and returns it. It
 * runs on the same stack as a node (hono on @hono/node-server), so the difference between the two
 * is what the node does per request, not the HTTP server.
 */
import { Hono } from 'hono';

export function createEchoApp(): Hono {
  const app = new Hono();
  app.post('/echo', async (c) => c.json(await c.req.json<unknown>()));
  return app;
}
