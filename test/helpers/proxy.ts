/**
 * A TCP proxy on loopback (node:net) that a test puts in front of a node to simulate the network
 * between nodes: pass, delay (a fixed latency on every response chunk), cut (refuse: reset the
 * connection; drop: swallow it and never answer, so the caller times out) and trickle (a few
 * bytes at a time). The mode is switched at runtime and applies at once to open connections too.
 *
 * To route a member through it, point its roster endpoint at `proxy.url` (`fed.updateRoster`):
 * every node then reaches that member through the proxy.
 *
 * Modes can differ per caller. The proxy reads each HTTP/1.1 request's head as it passes and takes
 * the caller from the RFC 9421 `Signature-Input` `keyid` (the member id; '' for unsigned
 * requests). A pooled keep-alive connection can carry requests of several callers in turn (nodes
 * that run in one process share one connection pool), so the caller is taken per request, and the
 * response that follows a request gets that caller's mode (peer requests are not pipelined). A cut
 * of `alpha` in the proxy in front of `beta`, together with a cut of `beta` in the proxy in front
 * of `alpha`, is a partition between them that leaves their links to everyone else intact.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = { mode: 'pass' } | { mode: 'delay'; ms: number } | { mode: 'cut'; how: 'refuse' | 'drop' } | { mode: 'trickle'; bytes: number; everyMs: number };

export const PASS: ProxyMode = { mode: 'pass' };
/** Every response chunk is held `ms` before it is passed on (order kept): a fixed latency. */
export const delay = (ms: number): ProxyMode => ({ mode: 'delay', ms });
/** refuse: connections are reset; drop: requests are swallowed and never answered. */
export const cut = (how: 'refuse' | 'drop' = 'refuse'): ProxyMode => ({ mode: 'cut', how });
/** Responses pass `bytes` at a time, one piece every `everyMs`. */
export const trickle = (bytes: number, everyMs: number): ProxyMode => ({ mode: 'trickle', bytes, everyMs });

export interface ProxyStats {
  /** Connections accepted so far. */
  accepted: number;
  /** Requests seen, per caller ('' = unsigned). */
  requests: Record<string, number>;
  /** Requests answered by a reset (cut refuse) or swallowed (cut drop). */
  refused: number;
  dropped: number;
  /** Response chunks being held back right now (delay or trickle). */
  held: number;
  /** Connections open now. */
  open: number;
}

export interface TcpProxy {
  readonly url: string;
  readonly port: number;
  /** The mode for every caller without an override (`from` absent), or for the callers named. */
  set(mode: ProxyMode, options?: { from?: readonly string[] }): void;
  /** Back to pass for everyone, overrides cleared. */
  reset(): void;
  modeFor(caller: string): ProxyMode;
  stats(): ProxyStats;
  close(): Promise<void>;
}

const MAX_HEAD_BYTES = 64 * 1024;
const KEYID = /^signature-input:[^\r\n]*?\bkeyid="([^"\r\n]{1,64})"/im;
const CONTENT_LENGTH = /^content-length:[ \t]*(\d{1,12})[ \t]*$/im;
const CHUNKED = /^transfer-encoding:/im;

interface Held {
  at: number;
  bytes: Buffer;
}

/** One client connection and its upstream connection. */
class Link {
  caller: string | undefined;
  /** Swallowing everything (cut drop): nothing is forwarded either way until the link is closed. */
  swallowing = false;
  private upstream: Socket | undefined;
  private pendingUp: Buffer[] = [];
  private head = Buffer.alloc(0);
  /** Body bytes of the current request still to pass; -1 when the stream cannot be parsed. */
  private bodyLeft = 0;
  private opaque = false;
  private readonly queue: Held[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastRelease = 0;
  private upstreamEnded = false;
  closed = false;

  constructor(
    readonly client: Socket,
    private readonly proxy: ProxyServer,
  ) {
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    client.on('end', () => this.upstream?.end());
    client.on('error', () => this.close());
    client.on('close', () => this.close());
  }

  get held(): number {
    return this.queue.length;
  }

  /** Splits the client's byte stream into requests so that each is classified by its caller. */
  private fromClient(chunk: Buffer): void {
    if (this.closed) return;
    if (this.opaque) return this.forwardUp(chunk);
    let rest = chunk;
    while (rest.length > 0 && !this.closed) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, rest.length);
        this.forwardUp(rest.subarray(0, n));
        this.bodyLeft -= n;
        rest = rest.subarray(n);
        continue;
      }
      this.head = Buffer.concat([this.head, rest]);
      rest = Buffer.alloc(0);
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.head.length > MAX_HEAD_BYTES) this.becomeOpaque();
        return;
      }
      const headBytes = this.head.subarray(0, end + 4);
      rest = this.head.subarray(end + 4);
      this.head = Buffer.alloc(0);
      const text = headBytes.toString('latin1');
      const caller = KEYID.exec(text)?.[1] ?? '';
      this.caller = caller;
      this.proxy.countRequest(caller);
      const mode = this.proxy.modeFor(caller);
      if (mode.mode === 'cut') {
        if (mode.how === 'refuse') {
          this.proxy.refused += 1;
          return this.reset();
        }
        this.proxy.dropped += 1;
        this.swallowing = true;
        return;
      }
      this.forwardUp(headBytes);
      if (CHUNKED.test(text)) {
        this.becomeOpaque();
        if (rest.length > 0) this.forwardUp(rest);
        return;
      }
      this.bodyLeft = Number(CONTENT_LENGTH.exec(text)?.[1] ?? 0);
    }
  }

  /** A stream the proxy cannot split (chunked upload, huge head): pass it through as it comes. */
  private becomeOpaque(): void {
    this.opaque = true;
    if (this.head.length > 0) this.forwardUp(this.head);
    this.head = Buffer.alloc(0);
  }

  private forwardUp(bytes: Buffer): void {
    if (this.swallowing || this.closed) return;
    if (!this.upstream) this.connectUpstream();
    if (this.upstream && !this.upstream.connecting) this.upstream.write(bytes);
    else this.pendingUp.push(Buffer.from(bytes));
  }

  private connectUpstream(): void {
    const up = createConnection({ host: this.proxy.targetHost, port: this.proxy.targetPort });
    this.upstream = up;
    up.on('connect', () => {
      for (const b of this.pendingUp) up.write(b);
      this.pendingUp = [];
    });
    up.on('data', (chunk: Buffer) => this.fromUpstream(chunk));
    up.on('end', () => {
      this.upstreamEnded = true;
      this.maybeEndClient();
    });
    // The target is down: the caller sees a reset, as it would connecting to a dead node.
    up.on('error', () => this.reset());
    up.on('close', () => {
      if (!this.upstreamEnded) this.reset();
    });
  }

  private fromUpstream(chunk: Buffer): void {
    if (this.closed || this.swallowing) return;
    const mode = this.proxy.modeFor(this.caller ?? '');
    const now = Date.now();
    if (mode.mode === 'delay') {
      this.enqueue(Math.max(now + mode.ms, this.lastRelease), chunk);
    } else if (mode.mode === 'trickle') {
      for (let i = 0; i < chunk.length; i += mode.bytes) {
        this.enqueue(Math.max(now, this.lastRelease + mode.everyMs), chunk.subarray(i, i + mode.bytes));
      }
    } else if (this.queue.length > 0) {
      this.enqueue(Math.max(now, this.lastRelease), chunk);
    } else {
      this.client.write(chunk);
    }
  }

  private enqueue(at: number, bytes: Buffer): void {
    this.lastRelease = at;
    this.queue.push({ at, bytes: Buffer.from(bytes) });
    this.pump();
  }

  private pump(): void {
    if (this.timer || this.closed) return;
    const next = this.queue[0];
    if (!next) return this.maybeEndClient();
    const wait = next.at - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    this.queue.shift();
    this.client.write(next.bytes);
    this.pump();
  }

  private maybeEndClient(): void {
    if (this.upstreamEnded && this.queue.length === 0 && !this.closed) this.client.end();
  }

  /** Re-applies the caller's mode after a switch. */
  reapply(): void {
    if (this.closed || this.caller === undefined) return;
    const mode = this.proxy.modeFor(this.caller);
    // A cut closes what is open (an idle pooled connection would otherwise carry the next request
    // past the cut); a request on a new connection is then refused or swallowed as it arrives. A
    // swallowed request can never be answered: once the cut is lifted its link is closed too.
    if (mode.mode === 'cut' || this.swallowing) return this.reset();
    if (mode.mode === 'pass' && this.queue.length > 0) {
      for (const h of this.queue) h.at = Math.min(h.at, Date.now());
      this.lastRelease = Date.now();
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.pump();
    }
  }

  reset(): void {
    if (this.closed) return;
    this.client.resetAndDestroy();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.queue.length = 0;
    this.client.destroy();
    this.upstream?.destroy();
    this.proxy.links.delete(this);
  }
}

class ProxyServer implements TcpProxy {
  readonly links = new Set<Link>();
  readonly targetHost: string;
  readonly targetPort: number;
  refused = 0;
  dropped = 0;
  private accepted = 0;
  private readonly requests: Record<string, number> = {};
  private fallback: ProxyMode = PASS;
  private readonly overrides = new Map<string, ProxyMode>();
  port = 0;

  constructor(
    target: string,
    private readonly server: Server,
  ) {
    const u = new URL(target);
    this.targetHost = u.hostname.replace(/^\[|\]$/g, '');
    this.targetPort = Number(u.port);
    server.on('connection', (socket: Socket) => {
      this.accepted += 1;
      socket.setNoDelay(true);
      this.links.add(new Link(socket, this));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  countRequest(caller: string): void {
    this.requests[caller] = (this.requests[caller] ?? 0) + 1;
  }

  modeFor(caller: string): ProxyMode {
    return this.overrides.get(caller) ?? this.fallback;
  }

  set(mode: ProxyMode, options: { from?: readonly string[] } = {}): void {
    if (options.from) for (const caller of options.from) this.overrides.set(caller, mode);
    else this.fallback = mode;
    for (const link of [...this.links]) link.reapply();
  }

  reset(): void {
    this.overrides.clear();
    this.set(PASS);
  }

  stats(): ProxyStats {
    let held = 0;
    for (const link of this.links) held += link.held;
    return { accepted: this.accepted, requests: { ...this.requests }, refused: this.refused, dropped: this.dropped, held, open: this.links.size };
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) link.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Starts a proxy on an ephemeral loopback port in front of `target` (`http://host:port`). */
export async function startProxy(target: string, initial: ProxyMode = PASS): Promise<TcpProxy> {
  const server = createServer({ noDelay: true });
  const proxy = new ProxyServer(target, server);
  proxy.set(initial);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  proxy.port = (server.address() as { port: number }).port;
  return proxy;
}
