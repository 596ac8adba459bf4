/**
 * The peer-facing federation API (docs/PROTOCOL.md, "Federation API"). Only active roster members
 * may call it, with signed requests (peer-auth.ts). It serves every log this node holds, its own
 * and the ones it mirrors, exactly as stored: entries are the signed bytes, checkpoints the
 * origin's signed notes, so an intermediary can relay data but cannot forge it.
 */
import { Hono } from 'hono';
import type { Kysely } from 'kysely';
import { toBase64 } from '../crypto/encoding.js';
import { MEMBER_ID_PATTERN } from '../config/schema.js';
import { CheckpointRepository } from '../store/checkpoint-repository.js';
import { LogReader } from '../store/log-repository.js';
import { consistencyProofAt, inclusionProofAt } from '../store/proofs.js';
import type { Database } from '../store/tables.js';
import { peerAuth, type PeerAuthEnv } from './peer-auth.js';
import { PeerLimits, type PeerLimitsOptions } from './peer-limits.js';
import type { ReplayCache } from './request-signature.js';
import { MAX_COSIGN_NOTES, parseCosignRequest, type CosignAnswer } from './witness-requests.js';

export interface FederationRoutesDeps {
  db: Kysely<Database>;
  lookupKey: (memberId: string) => Uint8Array | readonly Uint8Array[] | undefined;
  replay: ReplayCache;
  maxSkewSeconds: number;
  /** The authorities this node is known under to its peers (request-signature.ts `ownAuthorities`). */
  authorities: () => readonly string[];
  /** `sync.requestAuthority` is "transition": signatures without `@authority` are accepted too. */
  acceptWithoutAuthority: boolean;
  pageLimit: number;
  nowSeconds: () => number;
  onNotify: (peer: string, origin: string, size: number) => void;
  /** The signed roster note this node holds, served publicly so members can refresh from it. */
  rosterNote: () => string | undefined;
  /** The token epochs this node holds, ascending: named in the checkpoint list (held-epochs.ts). */
  epochs: readonly number[];
  /** Concurrency and per-peer rate limits (`limits.*`); none when absent. */
  limits?: PeerLimitsOptions;
  /** Set on the witness (the association's node): cosigns checkpoints of a log it holds on request. */
  cosignatures?: ((caller: string, origin: string, notes: string[]) => Promise<CosignAnswer[]>) | undefined;
}

type Fail = { error: { code: string; message: string } };
const fail = (code: string, message: string): Fail => ({ error: { code, message } });

/**
 * A page of entries stops growing at this many bytes of base64 (docs/PROTOCOL.md): with pages of
 * thousands of entries, a log of maximal 16 KiB entries would otherwise exceed what peers accept
 * (`sync.maxResponseBytes`, 32 MiB by default), and an honest node must never look hostile.
 */
export const MAX_PAGE_BODY_BYTES = 8 * 1024 * 1024;

const INDEX = /^(?:0|[1-9][0-9]{0,15})$/;

function parseIndex(text: string): number | undefined {
  return INDEX.test(text) ? Number(text) : undefined;
}

export function federationRoutes(deps: FederationRoutesDeps): Hono<PeerAuthEnv> {
  const app = new Hono<PeerAuthEnv>();

  app.get('/v1/roster', (c) => {
    const note = deps.rosterNote();
    return note ? c.text(note, 200, { 'content-type': 'text/plain; charset=utf-8' }) : c.json(fail('not_found', 'this node holds no roster'), 404);
  });

  app.use(
    '/v1/federation/*',
    peerAuth({
      lookupKey: deps.lookupKey,
      now: deps.nowSeconds,
      maxSkewSeconds: deps.maxSkewSeconds,
      authorities: deps.authorities,
      acceptWithoutAuthority: deps.acceptWithoutAuthority,
      replay: deps.replay,
      maxBodyBytes: 64 * 1024,
      limits: deps.limits ? new PeerLimits(deps.limits) : undefined,
    }),
  );

  app.get('/v1/federation/checkpoints', async (c) => {
    const all = await new CheckpointRepository(deps.db).latestAll();
    return c.json({ checkpoints: all.map((cp) => ({ origin: cp.origin, size: cp.size, note: cp.note })), epochs: deps.epochs });
  });

  app.get('/v1/federation/logs/:origin/entries/:start/:end', async (c) => {
    const { origin } = c.req.param();
    const start = parseIndex(c.req.param('start'));
    const end = parseIndex(c.req.param('end'));
    if (!MEMBER_ID_PATTERN.test(origin) || start === undefined || end === undefined || end <= start) {
      return c.json(fail('invalid_input', 'expected /logs/<member>/entries/<start>/<end> with start < end'), 400);
    }
    const log = new LogReader(deps.db);
    const size = await log.size(origin);
    if (start >= size) return c.json(fail('not_found', `the log of ${origin} has ${size} entries`), 404);
    const last = Math.min(end, size, start + deps.pageLimit);
    const entries = await log.entries(origin, start + 1, last);
    const encoded: string[] = [];
    let bytes = 0;
    for (const e of entries) {
      const b64 = toBase64(e.bytes);
      bytes += b64.length + 3;
      if (encoded.length > 0 && bytes > MAX_PAGE_BODY_BYTES) break;
      encoded.push(b64);
    }
    return c.json({ origin, start, entries: encoded });
  });

  app.get('/v1/federation/logs/:origin/consistency/:from/:to', async (c) => {
    const { origin } = c.req.param();
    const from = parseIndex(c.req.param('from'));
    const to = parseIndex(c.req.param('to'));
    if (!MEMBER_ID_PATTERN.test(origin) || from === undefined || to === undefined || from < 1 || from > to) {
      return c.json(fail('invalid_input', 'expected /logs/<member>/consistency/<from>/<to> with 1 ≤ from ≤ to'), 400);
    }
    const log = new LogReader(deps.db);
    if (to > (await log.size(origin))) return c.json(fail('not_found', `the log of ${origin} is smaller than ${to}`), 404);
    return c.json({ proof: (await consistencyProofAt(log, origin, from, to)).map(toBase64) });
  });

  app.get('/v1/federation/logs/:origin/inclusion/:index/:size', async (c) => {
    const { origin } = c.req.param();
    const index = parseIndex(c.req.param('index'));
    const size = parseIndex(c.req.param('size'));
    if (!MEMBER_ID_PATTERN.test(origin) || index === undefined || size === undefined || index >= size) {
      return c.json(fail('invalid_input', 'expected /logs/<member>/inclusion/<index>/<size> with index < size'), 400);
    }
    const log = new LogReader(deps.db);
    if (size > (await log.size(origin))) return c.json(fail('not_found', `the log of ${origin} is smaller than ${size}`), 404);
    return c.json({ proof: (await inclusionProofAt(log, origin, index, size)).map(toBase64) });
  });

  app.post('/v1/federation/cosignatures', async (c) => {
    const cosignatures = deps.cosignatures;
    if (!cosignatures) return c.json(fail('not_found', "this node is not the federation's witness"), 404);
    const read = readJson(c.get('rawBody'));
    if (!read.ok) return c.json(read.failure, 400);
    const request = parseCosignRequest(read.body);
    if (!request) return c.json(fail('invalid_input', `expected {"origin": <member id>, "checkpoints": [1 to ${MAX_COSIGN_NOTES} checkpoint notes of that member's log]}`), 400);
    return c.json({ checkpoints: await cosignatures(c.get('peer'), request.origin, request.notes) });
  });

  app.post('/v1/federation/notify', async (c) => {
    const read = readJson(c.get('rawBody'));
    if (!read.ok) return c.json(read.failure, 400);
    const { origin, size } = (read.body ?? {}) as Record<string, unknown>;
    if (typeof origin !== 'string' || !MEMBER_ID_PATTERN.test(origin) || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      return c.json(fail('invalid_input', 'expected {"origin": <member id>, "size": <integer>}'), 400);
    }
    deps.onNotify(c.get('peer'), origin, size);
    return c.json({ status: 'accepted' }, 202);
  });

  return app;
}

/**
 * Reads a federation JSON body, decoding the bytes strictly as UTF-8 as the platform API does
 * (api/middleware.ts `decodeBody`): replaced by U+FFFD, two different byte strings would read as
 * one. 400 `invalid_encoding` or `invalid_input`, before anything is verified or written. A BOM
 * is kept, so JSON.parse refuses it: the federation's bodies never carried one.
 */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function readJson(raw: Uint8Array): { ok: true; body: unknown } | { ok: false; failure: Fail } {
  let text: string;
  try {
    text = STRICT_UTF8.decode(raw);
  } catch {
    return { ok: false, failure: fail('invalid_encoding', 'the body is not valid UTF-8') };
  }
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, failure: fail('invalid_input', 'body is not valid JSON') };
  }
}
