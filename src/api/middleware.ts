/**
 * Cross-cutting request handling: request ids and access logs, API-key authentication with
 * scopes, JSON-only bodies and body-size limits. Access logs carry the method, route, status and
 * duration, never a body, a query string or an Authorization header.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from 'pino';
import { accessLogWriter } from '../logging.js';
import { randomBytes } from '../crypto/index.js';
import { toHex } from '../crypto/encoding.js';
import { AppError } from '../errors.js';
import { scopeAllows, type ApiKeyService, type Scope } from '../service/api-keys.js';
import type { AppEnv } from './env.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Request ids: a random prefix per process and a counter, unique without drawing random bytes on
 * every request (randomBytes was a visible share of a check's CPU).
 */
const REQUEST_ID_PREFIX = toHex(randomBytes(6));
let requestCounter = 0;

export function requestContext(logger: Logger): MiddlewareHandler<AppEnv> {
  const writeAccessLine = accessLogWriter(logger);
  return async (c, next) => {
    const started = performance.now();
    c.set('receivedAt', started);
    const given = c.req.header('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : `${REQUEST_ID_PREFIX}-${(requestCounter++).toString(36)}`;
    c.set('log', logger.child({ requestId }));
    c.set('requestId', requestId);
    c.header('x-request-id', requestId);
    await next();
    writeAccessLine({
      requestId,
      method: c.req.method,
      route: c.req.routePath,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      keyId: c.get('principal')?.keyId,
    });
  };
}

export function requireScope(keys: ApiKeyService, scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header ? /^Bearer (\S+)$/.exec(header) : null;
    if (!match) throw new AppError('unauthorized', 'missing API key: send "Authorization: Bearer <key>"');
    const principal = await keys.authenticate(match[1]!);
    if (!scopeAllows(principal.scope, scope)) {
      throw new AppError('forbidden', `this API key has scope "${principal.scope}"; this call needs "${scope}"`);
    }
    c.set('principal', principal);
    await next();
  };
}

/**
 * Decodes a request body as UTF-8, refusing (400 `invalid_encoding`) bytes that are not UTF-8
 * rather than replacing them with U+FFFD as `Request.text()` does: replaced, two different byte
 * strings read as one string, so two different identifiers would share a token. A leading BOM is
 * dropped, as `text()` drops it.
 */
export function decodeBody(bytes: Uint8Array): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw new AppError('invalid_encoding', 'the body is not valid UTF-8');
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Rejects a body that is not declared as JSON before anything reads it, then reads it once,
 * strictly as UTF-8 (decodeBody). Hono's `c.req.json()` parses the text it caches, so the
 * validator and the rate limit after this see exactly the decoded text. Runs after limitBody,
 * whose errors (a chunked body over the limit) pass through unchanged.
 */
export function requireJson(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new AppError('unsupported_media_type', 'the body must be JSON, sent with "Content-Type: application/json"');
    }
    const text = decodeBody(new Uint8Array(await c.req.arrayBuffer()));
    // At run time hono caches each body reading as a promise (its type says otherwise); with only
    // the bytes cached, json() would decode them again, leniently.
    (c.req.bodyCache as unknown as { text?: Promise<string> }).text = Promise.resolve(text);
    await next();
  };
}

/**
 * Refuses a body over `maxBytes` with 413. A request that declares its length (and no
 * Transfer-Encoding) is judged by that header alone, as hono's bodyLimit judges it too: Node's
 * HTTP parser delivers exactly Content-Length bytes, never more. Only a chunked body goes through
 * hono's bodyLimit, which counts the bytes as they stream in. hono's middleware starts by reading
 * `c.req.raw.body`, which makes @hono/node-server build a full web Request (undici, an
 * AbortSignal, a web stream over the socket); on every check that was about a tenth of the CPU.
 */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  const tooLarge = (): never => {
    throw new AppError('payload_too_large', `the body is larger than ${maxBytes} bytes`);
  };
  const streaming = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return streaming(c, next);
    // Node's parser has already refused a malformed Content-Length; parseInt as hono does.
    if (parseInt(length, 10) > maxBytes) tooLarge();
    await next();
  };
}
