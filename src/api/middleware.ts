/**
 * Cross-cutting request handling: request ids and access logs, API-key authentication with
 * scopes, JSON-only bodies and body-size limits. Access logs carry the method, route, status and
 * duration, never a body, a query string or an Authorization header.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from 'pino';
import { randomBytes } from '../crypto/index.js';
import { toHex } from '../crypto/encoding.js';
import { AppError } from '../errors.js';
import { scopeAllows, type ApiKeyService, type Scope } from '../service/api-keys.js';
import type { AppEnv } from './env.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function requestContext(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const given = c.req.header('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : toHex(randomBytes(8));
    const log = logger.child({ requestId });
    c.set('requestId', requestId);
    c.set('log', log);
    c.header('x-request-id', requestId);
    const started = performance.now();
    await next();
    log.info(
      { method: c.req.method, route: c.req.routePath, status: c.res.status, ms: Math.round((performance.now() - started) * 10) / 10, key: c.get('principal')?.keyId },
      'request',
    );
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

/** Rejects a body that is not declared as JSON before anything reads it. */
export function requireJson(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new AppError('unsupported_media_type', 'the body must be JSON, sent with "Content-Type: application/json"');
    }
    await next();
  };
}

export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new AppError('payload_too_large', `the body is larger than ${maxBytes} bytes`);
    },
  });
}
