/**
 * A hostile federation member for misbehaviour tests: a small hono server on a loopback ephemeral
 * port that answers the federation API a node's sync client calls (checkpoints, entries,
 * consistency proofs, notify) with whatever the test scripts. It holds its own Ed25519 key, so it
 * can sign checkpoints of its own log; it can relay or tamper with an honest origin's data but
 * cannot sign for that origin. It does not check request signatures: it wants to be called.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { toBase64 } from '../../src/crypto/encoding.js';
import { generateEd25519KeyPair, type Ed25519KeyPair } from '../../src/crypto/index.js';
import { logOrigin, signCheckpoint } from '../../src/log/checkpoint.js';
import { encodeEntry, type ListingEntry, type TokenRef } from '../../src/log/entry.js';
import { consistencyProof, leafHash, rootFromLeafHashes } from '../../src/log/merkle.js';
import { utf8 } from '../../src/crypto/encoding.js';
import { signRequest } from '../../src/federation/request-signature.js';

export interface AdvertisedCheckpoint {
  origin: string;
  size: number;
  note: string;
}

/** A request as the hostile peer received it, for scripted responses. */
export interface HostileRequest {
  method: string;
  path: string;
  /** The keyid of the request signature: the member calling. */
  caller: string | undefined;
}

export interface ServedLog {
  /** The entry bytes served for `/entries`, index 0 first. */
  entries: Uint8Array[];
  /**
   * Leaf hashes the consistency proofs are computed from; by default those of `entries`. A relay
   * that tampers with entries but serves the honest proofs sets these to the honest leaves.
   */
  proofLeaves?: Uint8Array[];
}

const DAY_MS = 86_400_000;

/** A valid listing entry of `origin` at `seq`, dated now, carrying the given tokens. */
export function craftListing(origin: string, seq: number, tokens: TokenRef[], time: Date = new Date()): ListingEntry {
  return {
    v: 1,
    kind: 'listing',
    origin,
    seq,
    time: time.toISOString(),
    category: 'fraud',
    severity: 'severe',
    bannedAt: new Date(time.getTime() - DAY_MS).toISOString(),
    banUntil: null,
    expiresAt: new Date(time.getTime() + 30 * DAY_MS).toISOString(),
    tokens,
  };
}

export class HostilePeer {
  /** What `/v1/federation/checkpoints` lists. */
  checkpoints: AdvertisedCheckpoint[] = [];
  /** What `/logs/:origin/…` serves, per origin (member id). */
  readonly logs = new Map<string, ServedLog>();
  /** Every request received, as "METHOD path", for diagnosing a failing test. */
  readonly requests: string[] = [];
  /**
   * Per-caller views (by the request signature's keyid): what this peer shows one member instead
   * of `checkpoints` and `logs`, to show different members different histories.
   */
  readonly views = new Map<string, { checkpoints: AdvertisedCheckpoint[]; logs: Map<string, ServedLog> }>();

  /**
   * A scripted raw response for any request: when it returns a Response, that is sent as it is
   * (malformed or deeply nested JSON, an oversized, endless or trickling body, wrong types);
   * undefined lets the well-formed federation API above answer.
   */
  override: ((req: HostileRequest) => Response | undefined) | undefined;
  /** Bodies made by `streamResponse` that are still being sent (the client has not closed them). */
  openStreams = 0;
  /** The most such bodies open at once: a node syncs with one peer one request at a time. */
  maxOpenStreams = 0;
  /** Bodies made by `streamResponse` that the client cancelled (closed the connection) mid-way. */
  cancelledStreams = 0;
  /** Bytes handed to the HTTP server by `streamResponse` bodies, in total. */
  bytesStreamed = 0;

  private constructor(
    readonly id: string,
    readonly keyPair: Ed25519KeyPair,
    readonly url: string,
    private readonly server: ServerType,
  ) {}

  /** `port` 0 takes an ephemeral one; another takes the place of a node stopped on that port. */
  static async start(id: string, port = 0): Promise<HostilePeer> {
    const keyPair = generateEd25519KeyPair();
    let peer: HostilePeer | undefined;
    const app = new Hono();
    app.use('*', async (c, next) => {
      peer?.requests.push(`${c.req.method} ${new URL(c.req.url).pathname}`);
      await next();
    });
    // Scripted raw responses (see `override`) come before the well-formed API below.
    app.use('*', async (c, next) => {
      const caller = /keyid="([^"]+)"/.exec(c.req.header('signature-input') ?? '')?.[1];
      const scripted = peer?.override?.({ method: c.req.method, path: new URL(c.req.url).pathname, caller });
      if (scripted) return scripted;
      await next();
    });
    const viewOf = (signatureInput: string | undefined) => {
      const caller = /keyid="([^"]+)"/.exec(signatureInput ?? '')?.[1];
      return caller !== undefined ? peer?.views.get(caller) : undefined;
    };
    const checkpointsFor = (signatureInput: string | undefined) => viewOf(signatureInput)?.checkpoints ?? peer?.checkpoints ?? [];
    const logFor = (signatureInput: string | undefined, origin: string) => (viewOf(signatureInput)?.logs ?? peer?.logs)?.get(origin);
    app.get('/v1/federation/checkpoints', (c) => c.json({ checkpoints: checkpointsFor(c.req.header('signature-input')) }));
    app.get('/v1/federation/logs/:origin/entries/:start/:end', (c) => {
      const log = logFor(c.req.header('signature-input'), c.req.param('origin'));
      const start = Number(c.req.param('start'));
      const end = Number(c.req.param('end'));
      if (!log || start >= log.entries.length) return c.json({ error: { code: 'not_found', message: 'no such entries' } }, 404);
      return c.json({ origin: c.req.param('origin'), start, entries: log.entries.slice(start, end).map(toBase64) });
    });
    app.get('/v1/federation/logs/:origin/consistency/:from/:to', (c) => {
      const log = logFor(c.req.header('signature-input'), c.req.param('origin'));
      const from = Number(c.req.param('from'));
      const to = Number(c.req.param('to'));
      const leaves = log ? (log.proofLeaves ?? log.entries.map(leafHash)) : [];
      if (!log || to > leaves.length || from < 1 || from > to) return c.json({ error: { code: 'not_found', message: 'no such proof' } }, 404);
      return c.json({ proof: consistencyProof(leaves.slice(0, to), from).map(toBase64) });
    });
    app.post('/v1/federation/notify', (c) => c.json({ status: 'accepted' }, 202));

    const server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    peer = new HostilePeer(id, keyPair, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server);
    return peer;
  }

  /** The roster entry that makes this peer a member. */
  get member(): { id: string; name: string; publicKey: string; endpoint: string } {
    return { id: this.id, name: `Platform ${this.id}`, publicKey: toBase64(this.keyPair.publicKey), endpoint: this.url };
  }

  /** A checkpoint of `origin`'s log over these entries, signed with this peer's own key. */
  signCheckpointFor(federation: string, origin: string, entries: readonly Uint8Array[]): AdvertisedCheckpoint {
    const name = logOrigin(federation, origin);
    const root = rootFromLeafHashes(entries.map(leafHash));
    return { origin, size: entries.length, note: signCheckpoint({ origin: name, size: entries.length, root }, { name, secretKey: this.keyPair.secretKey }) };
  }

  /** Serves `entries` as this peer's own log, with a checkpoint it signs: the only log it can sign. */
  serveOwnLog(federation: string, entries: ListingEntry[]): AdvertisedCheckpoint {
    const bytes = entries.map(encodeEntry);
    const cp = this.signCheckpointFor(federation, this.id, bytes);
    this.logs.set(this.id, { entries: bytes });
    this.checkpoints = [...this.checkpoints.filter((c) => c.origin !== this.id), cp];
    return cp;
  }

  /**
   * A response whose body is `prefix` followed by `chunk`, again and again: as fast as the client
   * reads (`intervalMs` 0) or one chunk per `intervalMs` (slowloris), until `totalBytes` have been
   * sent (never, by default). Headers go out at once; only the client can end an endless body.
   */
  streamResponse(opts: { prefix?: string; chunk: string; intervalMs?: number; totalBytes?: number; headers?: Record<string, string> }): Response {
    const prefix = utf8(opts.prefix ?? '');
    const chunk = utf8(opts.chunk);
    const interval = opts.intervalMs ?? 0;
    const total = opts.totalBytes ?? Number.POSITIVE_INFINITY;
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    let open = true;
    const finish = (cancelled: boolean) => {
      if (!open) return;
      open = false;
      this.openStreams -= 1;
      if (cancelled) this.cancelledStreams += 1;
      if (timer) clearTimeout(timer);
    };
    const push = (controller: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array) => {
      const part = bytes.subarray(0, Math.max(0, Math.min(bytes.length, total - sent)));
      sent += part.length;
      this.bytesStreamed += part.length;
      if (part.length > 0) controller.enqueue(part);
      if (sent >= total) {
        finish(false);
        controller.close();
      }
    };
    this.openStreams += 1;
    this.maxOpenStreams = Math.max(this.maxOpenStreams, this.openStreams);
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => push(controller, prefix),
      pull: (controller) =>
        interval === 0
          ? push(controller, chunk)
          : new Promise<void>((resolve) => {
              timer = setTimeout(() => {
                timer = undefined;
                if (open) push(controller, chunk);
                resolve();
              }, interval);
            }),
      cancel: () => finish(true),
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json', ...opts.headers } });
  }

  /**
   * A trickling peer: the requests `matches` picks get their headers and `prefix` at once, then one
   * `chunk` every `intervalMs` for ever (the slowloris of streamResponse); every other request is
   * answered by the federation API above. Only the client can end such an answer.
   */
  trickle(matches: (req: HostileRequest) => boolean, opts: { prefix?: string; chunk?: string; intervalMs?: number } = {}): void {
    this.override = (req) => (matches(req) ? this.streamResponse({ prefix: opts.prefix ?? '', chunk: opts.chunk ?? ' ', intervalMs: opts.intervalMs ?? 1_000 }) : undefined);
  }

  /** A response whose body is exactly `text`, declared as JSON whatever it holds. */
  static rawJson(text: string, status = 200): Response {
    return new Response(text, { status, headers: { 'content-type': 'application/json' } });
  }

  /** POST /v1/federation/notify to a node, signed as this peer: "pull from me now". Returns the status. */
  async notify(nodeUrl: string, origin: string = this.id, size = 1): Promise<number> {
    const path = '/v1/federation/notify';
    const body = utf8(JSON.stringify({ origin, size }));
    const headers = signRequest({ method: 'POST', path, authority: new URL(nodeUrl).host, body, keyId: this.id, secretKey: this.keyPair.secretKey, created: Math.floor(Date.now() / 1000) });
    const res = await fetch(`${nodeUrl}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
    await res.arrayBuffer();
    return res.status;
  }

  async close(): Promise<void> {
    const s = this.server;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      if ('closeAllConnections' in s) s.closeAllConnections();
    });
  }
}
