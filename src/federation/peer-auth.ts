/**
 * Hono middleware that authenticates federation requests: jointban's RFC 9421 / RFC 9530 profile
 * (see `request-signature.ts` and docs/PROTOCOL.md) plus nonce replay protection.
 *
 * It reads the raw body once, at most `maxBodyBytes` (413 beyond that, before verifying anything),
 * verifies the signature over exactly those bytes, and hands them to the handler as `rawBody`, so
 * the handler parses the bytes that were signed. The request is also rebuilt over the same bytes so
 * hono's own body readers and validators still work downstream.
 *
 * Failures answer 401 `{"error":{"code","message"}}` with the verifier's code, or `replayed`.
 * The order is what keeps one member from locking out the others (docs/SECURITY.md, "A member floods
 * the federation API"): verify the signature; refuse a nonce already seen; apply the peer limits
 * (503 busy, 429 over the member's rate); only then remember the nonce, in the member's own share of
 * the replay cache (429 when that share is full). So only members reach the cache, a refused request
 * holds no slot in it, and a member can fill no share but its own.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { PeerLimits } from './peer-limits.js';
import type { ReplayCache } from './replay-cache.js';
import { verifyRequest } from './request-verification.js';

export type PeerAuthEnv = { Variables: { peer: string; rawBody: Uint8Array } };

export interface PeerAuthOptions {
  /** The member's Ed25519 public keys valid now (PROTOCOL.md, "Key history"); none for an unknown or suspended member. */
  lookupKey(memberId: string): Uint8Array | readonly Uint8Array[] | undefined;
  /** Unix seconds. */
  now(): number;
  maxSkewSeconds: number;
  /** The authorities (host[:port]) this node is known under to its peers, for `@authority`. */
  authorities(): readonly string[];
  /** During an upgrade's transition (`sync.requestAuthority`): also accept signatures without `@authority`. */
  acceptWithoutAuthority?: boolean | undefined;
  replay: ReplayCache;
  maxBodyBytes: number;
  /** Concurrency and per-peer rate limits (`limits.*`); none when absent. */
  limits?: PeerLimits | undefined;
}

type BodyRead = { ok: true; bytes: Uint8Array } | { ok: false };

/** Reads the whole body, stopping (and cancelling the stream) as soon as it exceeds `max` bytes. */
async function readBodyWithLimit(request: Request, max: number): Promise<BodyRead> {
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > max) return { ok: false };
  if (request.body === null) return { ok: true, bytes: new Uint8Array(0) };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return { ok: false };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, bytes };
}

function reject(c: Context, status: 401 | 413 | 429 | 503, code: string, message: string, retryAfterSeconds?: number): Response {
  return c.json({ error: { code, message } }, status, retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) });
}

export function peerAuth(opts: PeerAuthOptions): MiddlewareHandler<PeerAuthEnv> {
  return async (c, next) => {
    const request = c.req.raw;
    const body = await readBodyWithLimit(request, opts.maxBodyBytes);
    if (!body.ok) return reject(c, 413, 'payload_too_large', `request body exceeds ${opts.maxBodyBytes} bytes`);

    const now = opts.now();
    const result = verifyRequest({
      method: request.method,
      // WHATWG URL parsing gives the path as sent on the wire by a fetch() client, without the query.
      path: new URL(request.url).pathname,
      authorities: opts.authorities(),
      receivedAuthority: request.headers.get('host') ?? new URL(request.url).host,
      acceptWithoutAuthority: opts.acceptWithoutAuthority,
      body: body.bytes,
      headers: request.headers,
      now,
      maxSkewSeconds: opts.maxSkewSeconds,
      lookupKey: opts.lookupKey,
    });
    if (!result.ok) return reject(c, 401, result.code, result.message);
    const { keyId, nonce, created } = result;
    if (opts.replay.seen(keyId, nonce, now)) return reject(c, 401, 'replayed', 'this signature nonce was already used');
    const refused = opts.limits?.admit(keyId);
    if (refused) return reject(c, refused.status, refused.code, refused.message, refused.retryAfterSeconds);
    const remembered = opts.replay.remember(keyId, nonce, created, now);
    if (remembered === 'quota') {
      return reject(c, 429, 'rate_limited', 'this member holds its whole share of live signature nonces; retry later', opts.replay.windowSeconds);
    }
    if (remembered !== 'remembered') return reject(c, 401, 'replayed', 'this signature nonce was already used, or is too old to remember');

    c.set('peer', keyId);
    c.set('rawBody', body.bytes);
    if (request.body !== null) {
      c.req.raw = new Request(request, { body: body.bytes });
    }
    if (opts.limits) await opts.limits.enter(next);
    else await next();
  };
}
