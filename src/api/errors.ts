/**
 * The mapping from errors to HTTP responses, in one place: every error body is
 * `{"error":{"code","message"}}`. Unexpected errors become a 500 whose message says nothing
 * about internals; the details go to the log with the request id.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError, type ErrorCode } from '../errors.js';
import type { AppEnv } from './env.js';

export function errorBody(code: ErrorCode | string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

const HTTP_EXCEPTION_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    const code = HTTP_EXCEPTION_CODES[err.status];
    if (code) return new AppError(code, code === 'invalid_input' && /json/i.test(err.message) ? 'body is not valid JSON' : err.message || code);
  }
  return undefined;
}

export function onError(err: Error, c: Context<AppEnv>): Response {
  const known = toAppError(err);
  if (known && known.status < 500) {
    return c.json(errorBody(known.code, known.message), known.status as ContentfulStatusCode);
  }
  c.get('log').error({ err }, 'request failed');
  const status = known?.status ?? 500;
  return c.json(errorBody(known?.code ?? 'internal', known && status === 503 ? known.message : 'internal error'), status as ContentfulStatusCode);
}

export function notFound(c: Context<AppEnv>): Response {
  return c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404);
}
