import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../../src/crypto/encoding.js';
import { generateEd25519KeyPair } from '../../../src/crypto/index.js';
import { peerAuth, type PeerAuthEnv } from '../../../src/federation/peer-auth.js';
import { ReplayCache, signRequest } from '../../../src/federation/request-signature.js';

const alpha = generateEd25519KeyPair();
const T0 = 1_750_000_000;
const SKEW = 300;
const MAX_BODY = 1024;

function createApp(opts: { now?: () => number; suspended?: Set<string>; replay?: ReplayCache } = {}) {
  const roster = new Map([['alpha', alpha.publicKey]]);
  const app = new Hono<PeerAuthEnv>();
  app.use(
    '/federation/*',
    peerAuth({
      lookupKey: (id) => (opts.suspended?.has(id) ? undefined : roster.get(id)),
      now: opts.now ?? (() => T0),
      maxSkewSeconds: SKEW,
      replay: opts.replay ?? new ReplayCache({ windowSeconds: SKEW, maxEntries: 100 }),
      maxBodyBytes: MAX_BODY,
    }),
  );
  app.post('/federation/v1/notify', async (c) =>
    c.json({ peer: c.get('peer'), raw: fromUtf8(c.get('rawBody')), parsed: await c.req.json<unknown>() }),
  );
  app.get('/federation/v1/checkpoint', (c) => c.json({ peer: c.get('peer'), rawBytes: c.get('rawBody').length }));
  return app;
}

const BODY = '{"origin":"alpha","size":42}';

function signedInit(over: { method?: string; path?: string; body?: string; created?: number; nonce?: string } = {}): RequestInit {
  const method = over.method ?? 'POST';
  const body = over.body ?? (method === 'GET' ? '' : BODY);
  const headers = signRequest({
    method,
    path: over.path ?? '/federation/v1/notify',
    body: utf8(body),
    keyId: 'alpha',
    secretKey: alpha.secretKey,
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

  it('a full replay cache → replayed (fail closed)', async () => {
    const app = createApp({ replay: new ReplayCache({ windowSeconds: SKEW, maxEntries: 1 }) });
    expect((await app.request('/federation/v1/notify', signedInit())).status).toBe(200);
    expect(await errorCode(await app.request('/federation/v1/notify', signedInit()))).toBe('replayed');
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
