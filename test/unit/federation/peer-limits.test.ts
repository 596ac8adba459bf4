/**
 * The limits on the federation API (src/federation/peer-limits.ts), through hono's app.request()
 * (peer-auth.ts applies them to signed requests; here a stand-in reads the peer from a header):
 * the concurrency cap holds requests that are still in progress (handlers the test releases by
 * hand, so nothing depends on timing), and the per-peer bucket runs on an injected clock.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { describe, expect, it } from 'vitest';
import { BUSY_RETRY_AFTER_SECONDS, PeerLimits } from '../../../src/federation/peer-limits.js';
import type { PeerAuthEnv } from '../../../src/federation/peer-auth.js';
import { RateLimiter } from '../../../src/common/rate-limiter.js';

/** Stands in for peer authentication: the caller's member id comes from a header. */
const fakeAuth: MiddlewareHandler<PeerAuthEnv> = async (c, next) => {
  c.set('peer', c.req.header('x-peer') ?? 'alpha');
  await next();
};

interface Gate {
  /** Resolves once `n` requests are inside the slow handler. */
  entered(n: number): Promise<void>;
  /** Lets every request inside the slow handler finish. */
  release(): void;
}

function createApp(opts: { maxConcurrent: number; ratePerSecond?: number; burst?: number; now?: () => number }) {
  let inside = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  let open: () => void = () => undefined;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const app = new Hono<PeerAuthEnv>();
  app.onError((_err, c) => c.json({ error: { code: 'internal', message: 'internal error' } }, 500));
  app.use('/v1/federation/*', fakeAuth);
  const limits = new PeerLimits({
    maxConcurrent: opts.maxConcurrent,
    perPeer: new RateLimiter({ ratePerSecond: opts.ratePerSecond ?? 1000, burst: opts.burst ?? 1000 }, opts.now ?? (() => 0)),
  });
  app.use('/v1/federation/*', async (c, next) => {
    const refused = limits.admit(c.get('peer'));
    if (refused) return c.json({ error: { code: refused.code, message: refused.message } }, refused.status, { 'Retry-After': String(refused.retryAfterSeconds) });
    await limits.enter(next);
  });
  app.get('/v1/federation/slow', async (c) => {
    inside++;
    for (const w of waiters.filter((w) => inside >= w.n)) w.resolve();
    await gate;
    inside--;
    return c.json({ peer: c.get('peer') });
  });
  app.get('/v1/federation/fast', (c) => c.json({ peer: c.get('peer') }));
  const control: Gate = {
    entered: (n) => (inside >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
    release: () => {
      open();
      gate = new Promise<void>((resolve) => (open = resolve));
    },
  };
  return { app, gate: control };
}

const get = (app: Hono<PeerAuthEnv>, path: string, peer = 'alpha') => app.request(path, { headers: { 'x-peer': peer } });

describe('PeerLimits: concurrent requests', () => {
  it('serves up to maxConcurrent at once and answers 503 with Retry-After beyond', async () => {
    const { app, gate } = createApp({ maxConcurrent: 4 });
    const held = ['alpha', 'beta', 'gamma', 'alpha'].map((peer) => get(app, '/v1/federation/slow', peer));
    await gate.entered(4);

    const busy = await get(app, '/v1/federation/fast', 'delta');
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe(String(BUSY_RETRY_AFTER_SECONDS));
    expect(((await busy.json()) as { error: { code: string } }).error.code).toBe('unavailable');

    gate.release();
    const done = await Promise.all(held);
    expect(done.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // Every slot is free again.
    expect((await get(app, '/v1/federation/fast', 'delta')).status).toBe(200);
  });

  it('frees a slot as soon as one request ends', async () => {
    const { app, gate } = createApp({ maxConcurrent: 1 });
    const first = get(app, '/v1/federation/slow');
    await gate.entered(1);
    expect((await get(app, '/v1/federation/fast')).status).toBe(503);
    gate.release();
    expect((await first).status).toBe(200);
    expect((await get(app, '/v1/federation/fast')).status).toBe(200);
  });

  it('frees the slot of a request whose handler throws', async () => {
    const { app } = createApp({ maxConcurrent: 1 });
    app.get('/v1/federation/broken', () => {
      throw new Error('boom');
    });
    expect((await get(app, '/v1/federation/broken')).status).toBe(500);
    expect((await get(app, '/v1/federation/fast')).status).toBe(200);
  });

  it('does not charge a peer for a request refused as busy', async () => {
    const { app, gate } = createApp({ maxConcurrent: 1, ratePerSecond: 1, burst: 2 });
    const held = get(app, '/v1/federation/slow', 'beta');
    await gate.entered(1);
    for (let i = 0; i < 5; i++) expect((await get(app, '/v1/federation/fast', 'alpha')).status).toBe(503);
    gate.release();
    await held;
    expect((await get(app, '/v1/federation/fast', 'alpha')).status).toBe(200);
    expect((await get(app, '/v1/federation/fast', 'alpha')).status).toBe(200);
    expect((await get(app, '/v1/federation/fast', 'alpha')).status).toBe(429);
  });
});

describe('PeerLimits: requests per peer', () => {
  it('answers 429 with Retry-After once a peer has used its burst, per peer, until the clock refills it', async () => {
    let ms = 0;
    const { app } = createApp({ maxConcurrent: 16, ratePerSecond: 0.5, burst: 3, now: () => ms });
    for (let i = 0; i < 3; i++) expect((await get(app, '/v1/federation/fast', 'alpha')).status).toBe(200);
    const refused = await get(app, '/v1/federation/fast', 'alpha');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');

    expect((await get(app, '/v1/federation/fast', 'beta')).status).toBe(200);

    ms += 2_000;
    expect((await get(app, '/v1/federation/fast', 'alpha')).status).toBe(200);
    expect((await get(app, '/v1/federation/fast', 'alpha')).status).toBe(429);
  });
});
