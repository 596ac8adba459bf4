/**
 * HTTP client for the federation API of other nodes. Every request is signed (RFC 9421, see
 * request-signature.ts); every response is treated as hostile: bounded in time and size, parsed
 * defensively, and never trusted beyond what signatures and Merkle proofs then establish.
 */
import { utf8 } from '../crypto/encoding.js';
import { boundedFetch, BoundedFetchError, type BoundedFetchOptions, type BoundedResponse } from '../common/bounded-fetch.js';
import { signRequest } from './request-signature.js';

/** cancelled: the node stopped the request itself (stopping, the peer suspended, an ingest past its deadline). */
export type PeerErrorKind = 'network' | 'timeout' | 'cancelled' | 'http' | 'too_large' | 'bad_response';

export class PeerError extends Error {
  constructor(
    readonly kind: PeerErrorKind,
    message: string,
    readonly status?: number,
    /** The request that got this answer ("GET /v1/…"), when known: evidence names it. */
    readonly request?: string,
  ) {
    super(message);
    this.name = 'PeerError';
  }
}

/**
 * A response no conforming node sends (not JSON, over the size limit, the wrong shape): recorded
 * as `bad_response` misbehaviour. Timeouts, network and HTTP errors are not: an honest node that
 * is slow, down or refusing (rate limits) gives those too.
 */
export function isNonConforming(err: unknown): err is PeerError {
  return err instanceof PeerError && (err.kind === 'bad_response' || err.kind === 'too_large');
}

/** Short evidence of a non-conforming answer: which request, and what was wrong (never the body). */
export function nonConformingEvidence(err: PeerError): { request: string | null; problem: string } {
  const prefix = err.request === undefined ? '' : `${err.request}: `;
  const problem = prefix && err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return { request: err.request ?? null, problem: problem.slice(0, 300) };
}

export interface PeerClientOptions {
  self: string;
  /** The key to sign the next request with: it changes when the node rotates its key. */
  secretKey: () => Uint8Array;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Unix seconds, for the signature's `created`. */
  nowSeconds: () => number;
  /** Sign without `@authority`, as nodes of earlier versions require (`sync.requestAuthority: "transition"`). */
  transitionSignatures?: boolean;
}

export class PeerClient {
  constructor(private readonly opts: PeerClientOptions) {}

  get(endpoint: string, path: string, query?: Record<string, string | number>, signal?: AbortSignal): Promise<unknown> {
    return this.request('GET', endpoint, path, undefined, query, signal);
  }

  post(endpoint: string, path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.request('POST', endpoint, path, body, undefined, signal);
  }

  /** Unsigned GET of a text resource (the public roster). */
  async getText(url: string, signal?: AbortSignal): Promise<string> {
    const request = `GET ${url}`;
    const response = await this.exchange(url, { method: 'GET', signal }, request);
    if (!response.ok) throw new PeerError('http', `${request}: HTTP ${response.status}`, response.status);
    return Buffer.from(response.body).toString('utf8');
  }

  /**
   * One exchange under `timeoutMs` over the whole answer (bounded-fetch.ts holds the deadline, so a
   * trickled body is cut whatever the garbage collector does) and `maxResponseBytes`.
   */
  private async exchange(url: string, init: Pick<BoundedFetchOptions, 'method' | 'headers' | 'body' | 'signal'>, request: string): Promise<BoundedResponse> {
    const { timeoutMs, maxResponseBytes } = this.opts;
    try {
      return await boundedFetch(url, { ...init, timeoutMs, maxBytes: maxResponseBytes });
    } catch (err) {
      if (!(err instanceof BoundedFetchError)) throw err;
      const origin = new URL(url).origin;
      if (err.kind === 'too_large') throw new PeerError('too_large', `${request}: ${err.message}`, undefined, request);
      if (err.kind === 'cancelled') throw new PeerError('cancelled', `${request}: cancelled (the node is stopping, the peer left the roster or the sync ran out of time)`, undefined, request);
      if (err.phase === 'head') {
        if (err.kind === 'timeout') throw new PeerError('timeout', `${request}: no answer from ${origin} within ${timeoutMs} ms`, undefined, request);
        throw new PeerError('network', `${request}: cannot reach ${origin}: ${err.message}`, undefined, request);
      }
      if (err.kind === 'timeout') throw new PeerError('timeout', `${request}: the whole answer did not arrive within ${timeoutMs} ms`, undefined, request);
      throw new PeerError('network', `${request}: ${err.message}`, undefined, request);
    }
  }

  /**
   * A signed GET whose answer's body is returned as received, for the caller to parse where it
   * chooses (a page of entries is parsed on the ingest worker: ingest-commit.ts). A non-2xx answer
   * is an HTTP failure, as for `get`.
   */
  async getBytes(endpoint: string, path: string, signal?: AbortSignal): Promise<Uint8Array> {
    const { response } = await this.signedExchange('GET', endpoint, path, undefined, undefined, signal);
    return response.body;
  }

  private async signedExchange(
    method: 'GET' | 'POST',
    endpoint: string,
    path: string,
    body: unknown,
    query: Record<string, string | number> | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ response: BoundedResponse; request: string; parsed: () => { json: boolean; value: unknown } }> {
    const url = new URL(path, endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    // The signed @path must be what the server sees: the endpoint's own path prefix included.
    url.pathname = `${new URL(endpoint).pathname.replace(/\/$/, '')}${path}`;
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, String(v));
    const bodyBytes = body === undefined ? new Uint8Array(0) : utf8(JSON.stringify(body));
    const headers: Record<string, string> = {
      ...signRequest({
        method,
        path: url.pathname,
        authority: this.opts.transitionSignatures ? null : url.host,
        body: bodyBytes,
        keyId: this.opts.self,
        secretKey: this.opts.secretKey(),
        created: this.opts.nowSeconds(),
      }),
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const request = `${method} ${url.pathname}`;
    const response = await this.exchange(url.toString(), { method, headers, signal, ...(body !== undefined ? { body: bodyBytes } : {}) }, request);
    const parsed = () => {
      const bytes = response.body;
      try {
        // JSON.parse is not recursive in V8: deeply nested input costs time linear in its size.
        // A view, not Buffer.from(bytes): that copies a page of entries (megabytes) byte by byte.
        return { json: true, value: bytes.length ? (JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as unknown) : undefined };
      } catch {
        return { json: false, value: undefined };
      }
    };
    // An error answer need not be JSON (a proxy's 502 page): that is an HTTP failure, not a bad response.
    if (!response.ok) {
      const code = (parsed().value as { error?: { code?: unknown } } | undefined)?.error?.code;
      throw new PeerError('http', `${request}: HTTP ${response.status}${typeof code === 'string' ? ` (${code.slice(0, 64)})` : ''}`, response.status, request);
    }
    return { response, request, parsed };
  }

  private async request(method: 'GET' | 'POST', endpoint: string, path: string, body?: unknown, query?: Record<string, string | number>, signal?: AbortSignal): Promise<unknown> {
    const { request, parsed } = await this.signedExchange(method, endpoint, path, body, query, signal);
    const { json, value } = parsed();
    if (!json) throw new PeerError('bad_response', `${request}: response is not JSON`, undefined, request);
    return value;
  }
}
