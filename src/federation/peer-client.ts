/**
 * HTTP client for the federation API of other nodes. Every request is signed (RFC 9421, see
 * request-signature.ts); every response is treated as hostile: bounded in time and size, parsed
 * defensively, and never trusted beyond what signatures and Merkle proofs then establish.
 */
import { utf8 } from '../crypto/encoding.js';
import { signRequest } from './request-signature.js';

export type PeerErrorKind = 'network' | 'timeout' | 'http' | 'too_large' | 'bad_response';

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

/**
 * Reads the whole body, at most `max` bytes. The request's timeout signal covers the body too, so a
 * peer that trickles its answer is cut off at the timeout, not only one that is slow to start.
 */
async function readLimited(response: Response, max: number, request: string, timeoutMs: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await response.body?.cancel().catch(() => undefined);
    throw new PeerError('too_large', `${request}: response of ${declared} bytes exceeds the ${max}-byte limit`, undefined, request);
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let step: Awaited<ReturnType<typeof reader.read>>;
    try {
      step = await reader.read();
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new PeerError('timeout', `${request}: the whole answer did not arrive within ${timeoutMs} ms`, undefined, request);
      throw new PeerError('network', `${request}: the answer broke off: ${(err as Error).message}`, undefined, request);
    }
    const { done, value } = step;
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new PeerError('too_large', `${request}: response exceeds the ${max}-byte limit`, undefined, request);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

export class PeerClient {
  constructor(private readonly opts: PeerClientOptions) {}

  get(endpoint: string, path: string, query?: Record<string, string | number>): Promise<unknown> {
    return this.request('GET', endpoint, path, undefined, query);
  }

  post(endpoint: string, path: string, body: unknown): Promise<unknown> {
    return this.request('POST', endpoint, path, body);
  }

  /** Unsigned GET of a text resource (the public roster). */
  async getText(url: string): Promise<string> {
    const response = await this.fetch(url, { method: 'GET' });
    const bytes = await readLimited(response, this.opts.maxResponseBytes, `GET ${url}`, this.opts.timeoutMs);
    if (!response.ok) throw new PeerError('http', `GET ${url}: HTTP ${response.status}`, response.status);
    return Buffer.from(bytes).toString('utf8');
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.opts.timeoutMs), redirect: 'error' });
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new PeerError('timeout', `no answer from ${new URL(url).origin} within ${this.opts.timeoutMs} ms`);
      throw new PeerError('network', `cannot reach ${new URL(url).origin}: ${(err as Error).message}`);
    }
  }

  private async request(method: 'GET' | 'POST', endpoint: string, path: string, body?: unknown, query?: Record<string, string | number>): Promise<unknown> {
    const url = new URL(path, endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    // The signed @path must be what the server sees: the endpoint's own path prefix included.
    url.pathname = `${new URL(endpoint).pathname.replace(/\/$/, '')}${path}`;
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, String(v));
    const bodyBytes = body === undefined ? new Uint8Array(0) : utf8(JSON.stringify(body));
    const headers: Record<string, string> = {
      ...signRequest({ method, path: url.pathname, authority: this.opts.transitionSignatures ? null : url.host, body: bodyBytes, keyId: this.opts.self, secretKey: this.opts.secretKey(), created: this.opts.nowSeconds() }),
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.fetch(url.toString(), { method, headers, ...(body !== undefined ? { body: bodyBytes } : {}) });
    const request = `${method} ${url.pathname}`;
    const bytes = await readLimited(response, this.opts.maxResponseBytes, request, this.opts.timeoutMs);
    let parsed: unknown;
    let json = true;
    try {
      // JSON.parse is not recursive in V8: deeply nested input costs time linear in its size.
      // A view, not Buffer.from(bytes): that copies a page of entries (megabytes) byte by byte.
      parsed = bytes.length ? JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) : undefined;
    } catch {
      json = false;
    }
    // An error answer need not be JSON (a proxy's 502 page): that is an HTTP failure, not a bad response.
    if (!response.ok) {
      const code = (parsed as { error?: { code?: unknown } } | undefined)?.error?.code;
      throw new PeerError('http', `${request}: HTTP ${response.status}${typeof code === 'string' ? ` (${code.slice(0, 64)})` : ''}`, response.status, request);
    }
    if (!json) throw new PeerError('bad_response', `${request}: response is not JSON`, undefined, request);
    return parsed;
  }
}
