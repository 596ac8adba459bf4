import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../../src/crypto/encoding.js';
import { generateEd25519KeyPair } from '../../../src/crypto/index.js';
import { peerAuth, type PeerAuthEnv } from '../../../src/federation/peer-auth.js';
import { PeerLimits } from '../../../src/federation/peer-limits.js';
import { ReplayCache, signRequest } from '../../../src/federation/request-signature.js';
import { RateLimiter } from '../../../src/common/rate-limiter.js';

const alpha = generateEd25519KeyPair();
const beta = generateEd25519KeyPair();
const T0 = 1_750_000_000;
/** The authority the node under test is known under (app.request() sends no Host: a proxy's view). */
const HERE = 'alpha-node.example';
const SKEW = 300;
const MAX_BODY = 1024;

function createApp(opts: { now?: () => number; suspended?: Set<string>; replay?: ReplayCache; limits?: PeerLimits } = {}) {
  const roster = new Map([
    ['alpha', alpha.publicKey],
    ['beta', beta.publicKey],
  ]);
  const app = new Hono<PeerAuthEnv>();
  app.use(
    '/federation/*',
    peerAuth({
      lookupKey: (id) => (opts.suspended?.has(id) ? undefined : roster.get(id)),
      now: opts.now ?? (() => T0),
      maxSkewSeconds: SKEW,
      authorities: () => [HERE],
      replay: opts.replay ?? new ReplayCache({ windowSeconds: SKEW + 1, maxEntriesPerKey: 100 }),
      maxBodyBytes: MAX_BODY,
      limits: opts.limits,
    }),
  );
  app.post('/federation/v1/notify', async (c) => c.json({ peer: c.get('peer'), raw: fromUtf8(c.get('rawBody')), parsed: await c.req.json<unknown>() }));
  app.get('/federation/v1/checkpoint', (c) => c.json({ peer: c.get('peer'), rawBytes: c.get('rawBody').length }));
  return app;
}

const BODY = '{"origin":"alpha","size":42}';

function signedInit(over: { method?: string; path?: string; body?: string; created?: number; nonce?: string; as?: 'alpha' | 'beta' } = {}): RequestInit {
  const method = over.method ?? 'POST';
  const body = over.body ?? (method === 'GET' ? '' : BODY);
  const headers = signRequest({
    method,
    path: over.path ?? '/federation/v1/notify',
    authority: HERE,
    body: utf8(body),
    keyId: over.as ?? 'alpha',
    secretKey: (over.as === 'beta' ? beta : alpha).secretKey,
    created: over.created ?? T0,
    ...(over.nonce === undefined ? {} : { nonce: over.nonce }),
  });
  return method === 'GET' ? { method, headers } : { method, headers: { ...headers, 'content-type': 'application/json' }, body };
}

async function errorCode(res: Response): Promise<string> {
  const json = (await res.json()) as { error: { code: string; message: string } };
  expect(typeof json.error.message).toBe('string');
  return json.error.code;
}

describe('peerAuth: accepted requests', () => {
  it('sets peer and rawBody; downstream body readers still work', async () => {
    const res = await createApp().request('/federation/v1/notify', signedInit());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ peer: 'alpha', raw: BODY, parsed: { origin: 'alpha', size: 42 } });
  });

  it('accepts a GET with an empty body, and ignores the query (not part of @path)', async () => {
    const init = signedInit({ method: 'GET', path: '/federation/v1/checkpoint' });
    const app = createApp();
    const res = await app.request('/federation/v1/checkpoint?size=10', init);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ peer: 'alpha', rawBytes: 0 });
  });
});

describe('peerAuth: rejected requests answer 401 with the code', () => {
  it('no signature → missing_signature', async () => {
    const res = await createApp().request('/federation/v1/notify', { method: 'POST', body: BODY });
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe('missing_signature');
  });

  it('body changed in transit → bad_digest', async () => {
    const init = { ...signedInit(), body: '{"origin":"alpha","size":43}' };
    const res = await createApp().request('/federation/v1/notify', init);
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe('bad_digest');
  });

  it('sent to another path → bad_signature', async () => {
    const app = createApp();
    app.post('/federation/v1/other', (c) => c.text('reached'));
    const res = await app.request('/federation/v1/other', signedInit());
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe('bad_signature');
  });

  it('signed for another node → wrong_authority when the request names it, bad_signature otherwise', async () => {
    const forBeta = signRequest({ method: 'GET', path: '/federation/v1/checkpoint', authority: 'beta-node.example', body: new Uint8Array(0), keyId: 'alpha', secretKey: alpha.secretKey, created: T0 });
    const app = createApp();
    const named = await app.request('http://beta-node.example/federation/v1/checkpoint', { headers: forBeta });
    expect(named.status).toBe(401);
    expect(await errorCode(named)).toBe('wrong_authority');
    expect(await errorCode(await app.request('/federation/v1/checkpoint', { headers: forBeta }))).toBe('bad_signature');
  });

  it('suspended member → unknown_key', async () => {
    const res = await createApp({ suspended: new Set(['alpha']) }).request('/federation/v1/notify', signedInit());
    expect(await errorCode(res)).toBe('unknown_key');
  });

  it('clock far ahead of created → stale', async () => {
    const res = await createApp({ now: () => T0 + SKEW + 1 }).request('/federation/v1/notify', signedInit());
    expect(await errorCode(res)).toBe('stale');
  });

  it('the same signed request twice → replayed', async () => {
    const app = createApp();
    const init = signedInit();
    expect((await app.request('/federation/v1/notify', init)).status).toBe(200);
    const again = await app.request('/federation/v1/notify', init);
    expect(again.status).toBe(401);
    expect(await errorCode(again)).toBe('replayed');
    expect((await app.request('/federation/v1/notify', signedInit())).status).toBe(200);
  });

  it('a request that fails verification does not burn its nonce', async () => {
    const app = createApp();
    const nonce = 'AAECAwQFBgcICQoLDA0ODw';
    const tampered = { ...signedInit({ nonce }), body: '{}' };
    expect(await errorCode(await app.request('/federation/v1/notify', tampered))).toBe('bad_digest');
    expect((await app.request('/federation/v1/notify', signedInit({ nonce }))).status).toBe(200);
  });
});

describe('peerAuth: limits apply before a nonce is remembered', () => {
  it("a member's full share of the replay cache → 429 rate_limited; another member is still served", async () => {
    const replay = new ReplayCache({ windowSeconds: SKEW + 1, maxEntriesPerKey: 2 });
    const app = createApp({ replay });
    for (let i = 0; i < 2; i++) expect((await app.request('/federation/v1/notify', signedInit())).status).toBe(200);
    const full = await app.request('/federation/v1/notify', signedInit());
    expect(full.status).toBe(429);
    expect(full.headers.get('retry-after')).toBe(String(SKEW + 1));
    expect(await errorCode(full)).toBe('rate_limited');
    expect(replay.sizeOf('alpha')).toBe(2);
    for (let i = 0; i < 2; i++) expect((await app.request('/federation/v1/notify', signedInit({ as: 'beta' }))).status).toBe(200);
  });

  it('a request refused by the rate limit holds no nonce: the same signed request is served once the bucket refills', async () => {
    let ms = 0;
    const replay = new ReplayCache({ windowSeconds: SKEW + 1, maxEntriesPerKey: 100 });
    const limits = new PeerLimits({ maxConcurrent: 4, perPeer: new RateLimiter({ ratePerSecond: 1, burst: 1 }, () => ms) });
    const app = createApp({ replay, limits });
    expect((await app.request('/federation/v1/notify', signedInit())).status).toBe(200);
    const init = signedInit();
    for (let i = 0; i < 5; i++) {
      const refused = await app.request('/federation/v1/notify', init);
      expect(refused.status).toBe(429);
      expect(await errorCode(refused)).toBe('rate_limited');
    }
    expect(replay.sizeOf('alpha')).toBe(1);
    ms += 1_000;
    expect((await app.request('/federation/v1/notify', init)).status).toBe(200);
    expect(await errorCode(await app.request('/federation/v1/notify', init))).toBe('replayed');
  });

  it("a replayed request is refused before the limits: it uses none of the member's allowance", async () => {
    const limits = new PeerLimits({ maxConcurrent: 4, perPeer: new RateLimiter({ ratePerSecond: 0.001, burst: 2 }, () => 0) });
    const app = createApp({ limits });
    const init = signedInit();
    expect((await app.request('/federation/v1/notify', init)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect(await errorCode(await app.request('/federation/v1/notify', init))).toBe('replayed');
    expect((await app.request('/federation/v1/notify', signedInit())).status).toBe(200);
  });
});

describe('peerAuth: body limit', () => {
  const big = `{"pad":"${'x'.repeat(MAX_BODY)}"}`;

  it('a declared Content-Length over the limit → 413 before verification', async () => {
    const res = await createApp().request('/federation/v1/notify', signedInit({ body: big }));
    expect(res.status).toBe(413);
    expect(await errorCode(res)).toBe('payload_too_large');
  });

  it('a streamed body over the limit without Content-Length → 413', async () => {
    const init = signedInit({ body: big });
    const bytes = utf8(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 100) controller.enqueue(bytes.subarray(i, i + 100));
        controller.close();
      },
    });
    const request = new Request('http://localhost/federation/v1/notify', { method: 'POST', headers: init.headers, body: stream, duplex: 'half' });
    expect(request.headers.has('content-length')).toBe(false);
    const res = await createApp().request(request);
    expect(res.status).toBe(413);
  });

  it('a body of exactly the limit is accepted', async () => {
    const exact = `{"pad":"${'x'.repeat(MAX_BODY - 10)}"}`;
    expect(utf8(exact).length).toBe(MAX_BODY);
    const res = await createApp().request('/federation/v1/notify', signedInit({ body: exact }));
    expect(res.status).toBe(200);
  });
});
