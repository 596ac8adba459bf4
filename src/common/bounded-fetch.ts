/**
 * Every outbound HTTP request of a node goes through here: peer sync, notifications and the roster
 * fetch (federation/peer-client.ts), webhook delivery (service/webhook.ts) and the probe of
 * `jointban restore` (cli/restore.ts). One deadline covers the whole exchange: connecting, the
 * response head and every byte of the body, and the body is read up to a byte limit.
 *
 * The deadline is a timer this module holds, never an `AbortSignal.timeout` handed to fetch: undici
 * drops the abort of a request's signal once its Request object is garbage collected
 * (nodejs/node#55428), so a body trickled one byte a second never timed out after a GC. Here the
 * timer's callback holds the request itself (a strong reference for as long as the exchange
 * lasts) and destroys its socket when it fires; nothing depends on what the collector does. The
 * client is node:http, not fetch, so that "destroy the socket" is one call on an object we hold.
 * A caller's own signal (a node stopping, a peer suspended) ends the exchange the same way.
 */
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** timeout: the deadline passed; cancelled: the caller's signal; too_large: over `maxBytes`. */
export type BoundedFetchErrorKind = 'timeout' | 'network' | 'too_large' | 'cancelled';

/** Where the exchange was when it failed: before the response head, or while reading the body. */
export type BoundedFetchPhase = 'head' | 'body';

export class BoundedFetchError extends Error {
  constructor(
    readonly kind: BoundedFetchErrorKind,
    message: string,
    readonly phase: BoundedFetchPhase,
    /** The system error code of a network failure (ECONNREFUSED, ECONNRESET, …), when there is one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'BoundedFetchError';
  }
}

export interface BoundedFetchOptions {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** The whole exchange, body included. */
  timeoutMs: number;
  /** The most body bytes read; a longer body (declared or actual) fails as `too_large`. */
  maxBytes: number;
  /** Only the status matters: the exchange ends when the head arrives and the body is not read. */
  discardBody?: boolean;
  /** Ends the exchange early (kind `cancelled`): a node stopping, a peer suspended, an outer deadline. */
  signal?: AbortSignal | undefined;
}

export interface BoundedResponse {
  status: number;
  ok: boolean;
  headers: IncomingHttpHeaders;
  body: Uint8Array;
}

/** One HTTP exchange under a deadline the caller's process holds (see the header). */
export function boundedFetch(url: string | URL, opts: BoundedFetchOptions): Promise<BoundedResponse> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : undefined;
  if (!send) return Promise.reject(new BoundedFetchError('network', `unsupported protocol ${target.protocol}`, 'head'));
  if (opts.signal?.aborted) return Promise.reject(new BoundedFetchError('cancelled', 'the request was cancelled', 'head'));
  return new Promise<BoundedResponse>((resolve, reject) => {
    let phase: BoundedFetchPhase = 'head';
    let settled = false;
    let response: IncomingMessage | undefined;
    let req: ClientRequest | undefined;
    const settle = (outcome: { error: BoundedFetchError } | { value: BoundedResponse }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onCancel);
      if ('value' in outcome) return resolve(outcome.value);
      // Destroying the request destroys its socket: the peer's trickle ends here, not when it stops.
      response?.destroy();
      req?.destroy();
      reject(outcome.error);
    };
    const fail = (kind: BoundedFetchErrorKind, message: string, code?: string) => settle({ error: new BoundedFetchError(kind, message, phase, code) });
    const timer = setTimeout(() => fail('timeout', `no complete answer within ${opts.timeoutMs} ms`), opts.timeoutMs);
    const onCancel = () => fail('cancelled', 'the request was cancelled');
    opts.signal?.addEventListener('abort', onCancel, { once: true });

    const headers = { ...opts.headers, ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}) };
    req = send(target, { method: opts.method, headers });
    req.on('error', (err: NodeJS.ErrnoException) => fail('network', err.message, err.code));
    req.on('response', (res) => {
      response = res;
      phase = 'body';
      const head = { status: res.statusCode ?? 0, ok: (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300, headers: res.headers };
      if (opts.discardBody) {
        // Not drained for keep-alive: a receiver could trickle that body past the deadline.
        res.destroy();
        return settle({ value: { ...head, body: new Uint8Array(0) } });
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > opts.maxBytes) return fail('too_large', `response of ${declared} bytes exceeds the ${opts.maxBytes}-byte limit`);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBytes) return fail('too_large', `response exceeds the ${opts.maxBytes}-byte limit`);
        chunks.push(chunk);
      });
      res.on('end', () => settle({ value: { ...head, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) } }));
      res.on('error', (err: NodeJS.ErrnoException) => fail('network', `the answer broke off: ${err.message}`, err.code));
      res.on('close', () => {
        if (!res.complete) fail('network', 'the answer broke off');
      });
    });
    req.end(opts.body);
  });
}

/**
 * A deadline over a longer piece of work (an ingest, a lock wait): a signal that aborts when the
 * timer this object holds fires or when `parent` aborts (a stop, a suspension). The same rule as
 * above: the timer and the parent's listener hold the controller, so no collection drops them;
 * `dispose()` releases both once the work is done.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  /** True once the timer fired (not the parent): the work ran out of time. */
  expired = false;
  private readonly onParent = () => this.controller.abort();

  constructor(
    readonly ms: number,
    private readonly parent?: AbortSignal,
  ) {
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort();
    }, ms);
    if (parent?.aborted) this.controller.abort();
    else parent?.addEventListener('abort', this.onParent, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.parent?.removeEventListener('abort', this.onParent);
  }
}
