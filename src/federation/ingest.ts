/**
 * Ingesting one origin's log from one peer: the only way peer data reaches the store.
 *
 * Before anything is stored: the checkpoint's signature verifies against one of the origin's roster
 * keys (C2SP signed note) whose period contains the time of the checkpoint's last entry
 * (docs/PROTOCOL.md, "Key history"), and each page of entries, appended to the tree this node already holds,
 * yields a root that the peer proves consistent (RFC 9162 §2.1.4) with the signed root. A page is
 * therefore proven to be exactly the next leaves of the signed tree before it is committed, so
 * memory stays bounded by the page size however far behind this node is, and a restart resumes
 * from the last committed page. The entries are checked by the pure log validation that append
 * and `jointban verify` use too (log/validate.ts) where the page is prepared (ingest-commit.ts).
 * Entries and their token index land in one transaction.
 * Anything that fails is recorded as misbehaviour with its evidence and nothing of it is stored.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { bytesEqual, fromBase64, toBase64 } from '../crypto/encoding.js';
import type { OpenedCheckpoint } from '../log/checkpoint.js';
import type { CompactRange } from '../log/compact-range.js';
import { decodeEntry } from '../log/entry.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../log/merkle.js';
import { checkpointKeyError, findMember, openMemberCheckpoint, type MemberKey, type Roster } from '../roster/index.js';
import { CheckpointRepository } from '../store/checkpoint-repository.js';
import { LogReader } from '../store/log-repository.js';
import type { MisbehaviourKind, MisbehaviourRepository } from '../store/misbehaviour-repository.js';
import { rootAt } from '../store/proofs.js';
import type { Database } from '../store/tables.js';
import type { PeerClient } from './peer-client.js';
import { isNonConforming, nonConformingEvidence, PeerError } from './peer-client.js';
import { federationPaths } from './paths.js';
import { inProcessPipeline, LEAF_HASH_BYTES, type IngestPipeline } from './ingest-commit.js';
import { isCosigned, witnessOf } from '../roster/witness.js';
import { Deadline } from '../common/bounded-fetch.js';

export interface AdvertisedCheckpoint {
  origin: string;
  size: number;
  note: string;
}

export interface Peer {
  id: string;
  endpoint: string;
}

export type IngestOutcome =
  | { status: 'up_to_date'; size: number }
  | { status: 'extended'; size: number; from: number }
  | { status: 'skipped'; reason: string }
  | { status: 'rejected'; kind: MisbehaviourKind; message: string };

export interface IngestDeps {
  db: Kysely<Database>;
  /** Act only on checkpoints that carry the witness's cosignature (sync.requireCosignature). */
  requireCosignature: boolean;
  /** Set on the association's node: cosigns every checkpoint it accepts (it is the witness). */
  cosign?: ((note: string) => string) | undefined;
  federation: string;
  roster: Roster;
  client: PeerClient;
  misbehaviour: MisbehaviourRepository;
  pageSize: number;
  now: () => Date;
  logger: Logger;
  /** True once the node is stopping: a long catch-up ends after the page being committed. */
  stopping?: () => boolean;
  /** Cancels every ingest (a stop, the peer suspended): requests in flight end at once. */
  signal?: AbortSignal | undefined;
  /** One ingest, all its pages (sync.ingestTimeoutMs): past it the ingest ends and throws a timeout. */
  timeoutMs?: number | undefined;
  /** Where pages are parsed, validated and committed (worker-committer.ts); this thread when absent. */
  pipeline?: IngestPipeline | undefined;
}

/** A peer as one ingest calls it: every request carries the ingest's signal (its deadline, a stop). */
interface PeerCall extends Peer {
  signal: AbortSignal;
}

const DEFAULT_INGEST_TIMEOUT_MS = 300_000;
/**
 * Leaves appended to the tree between two yields to the event loop: a page of thousands of entries
 * is otherwise one block of synchronous work, and every check waits behind it.
 */
const YIELD_EVERY = 100;
/**
 * Entries per transaction when a proven page is committed. The commit itself runs on the ingest
 * worker (worker-committer.ts) where there is one; each transaction is one fsync
 * (synchronous = FULL), so much smaller slices would slow the sync (docs/BENCHMARKS.md, "Checks
 * during a large sync").
 */
const COMMIT_SLICE = 250;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

const MAX_PROOF_ITEMS = 128;

function decodeHashList(value: unknown): Uint8Array[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_PROOF_ITEMS) return undefined;
  const out: Uint8Array[] = [];
  for (const item of value) {
    const bytes = typeof item === 'string' ? fromBase64(item) : undefined;
    if (!bytes || bytes.length !== 32) return undefined;
    out.push(bytes);
  }
  return out;
}

export class Ingestor {
  constructor(private readonly deps: IngestDeps) {}

  private async reject(peer: Peer, origin: string, kind: MisbehaviourKind, message: string, evidence: Record<string, unknown>): Promise<IngestOutcome> {
    const fresh = await this.deps.misbehaviour.record({ kind, origin, peer: peer.id, detectedAt: this.deps.now().toISOString(), message, evidence });
    if (fresh) this.deps.logger.warn({ kind, origin, peer: peer.id, message }, 'misbehaviour detected');
    return { status: 'rejected', kind, message };
  }

  /** A consistency proof from the peer; an answer that is not a list of hashes is `bad_response`. */
  private async consistencyProof(peer: PeerCall, origin: string, from: number, to: number): Promise<Uint8Array[]> {
    const path = federationPaths.consistency(origin, from, to);
    const body = (await this.deps.client.get(peer.endpoint, path, undefined, peer.signal)) as { proof?: unknown } | undefined;
    const proof = decodeHashList(body?.proof);
    if (!proof) throw new PeerError('bad_response', `GET ${path}: expected {"proof": [at most ${MAX_PROOF_ITEMS} base64 32-byte hashes]}`, undefined, `GET ${path}`);
    return proof;
  }

  private async fetchPage(peer: PeerCall, origin: string, start: number, end: number): Promise<Uint8Array[]> {
    const request = `GET ${federationPaths.entries(origin, start, end)}`;
    const body = (await this.deps.client.get(peer.endpoint, federationPaths.entries(origin, start, end), undefined, peer.signal)) as { entries?: unknown } | undefined;
    const entries = body?.entries;
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > end - start) {
      throw new PeerError('bad_response', `${request}: expected 1 to ${end - start} entries`, undefined, request);
    }
    const out: Uint8Array[] = [];
    for (let i = 0; i < entries.length; i++) {
      if (i > 0 && i % YIELD_EVERY === 0) await yieldToLoop();
      const e: unknown = entries[i];
      const bytes = typeof e === 'string' ? fromBase64(e) : undefined;
      if (!bytes) throw new PeerError('bad_response', `${request}: entry ${start + i} is not base64`, undefined, request);
      out.push(bytes);
    }
    return out;
  }

  /** A page of entries as the peer sent it: parsed and checked where the pipeline runs. */
  private fetchRawPage(peer: PeerCall, origin: string, start: number, end: number): Promise<Uint8Array> {
    return this.deps.client.getBytes(peer.endpoint, federationPaths.entries(origin, start, end), peer.signal);
  }

  /**
   * Brings this node's copy of `advertised.origin` up to the peer's signed checkpoint, within the
   * ingest deadline: past it the requests in flight are cut and a `timeout` PeerError is thrown
   * (pages committed before stay: each is a proven prefix). The sync loop holds the origin's lock
   * for the whole call, so this deadline is what bounds the lock too.
   */
  async ingest(peer: Peer, advertised: AdvertisedCheckpoint): Promise<IngestOutcome> {
    const ms = this.deps.timeoutMs ?? DEFAULT_INGEST_TIMEOUT_MS;
    const deadline = new Deadline(ms, this.deps.signal);
    try {
      return await this.ingestWithin({ id: peer.id, endpoint: peer.endpoint, signal: deadline.signal }, advertised);
    } catch (err) {
      if (!deadline.expired) throw err;
      const request = err instanceof PeerError ? err.request : undefined;
      throw new PeerError('timeout', `ingest of ${advertised.origin} from ${peer.id} did not finish within ${ms} ms (sync.ingestTimeoutMs)`, undefined, request);
    } finally {
      deadline.dispose();
    }
  }

  private async ingestWithin(peer: PeerCall, advertised: AdvertisedCheckpoint): Promise<IngestOutcome> {
    const { deps } = this;
    const origin = advertised.origin;
    if (!findMember(deps.roster, origin)) return { status: 'skipped', reason: `${origin} is not in the roster` };
    const opened = openMemberCheckpoint(deps.roster, origin, advertised.note);
    if (!opened.ok) {
      return this.reject(peer, origin, 'bad_signature', `checkpoint of ${origin} served by ${peer.id} does not verify: ${opened.error}`, { checkpoint: advertised.note });
    }
    const witness = witnessOf(deps.roster);
    const cp = opened.checkpoint;
    const reader = new LogReader(deps.db);
    const local = await reader.size(origin);
    if (cp.size <= local) {
      const ours = await rootAt(reader, origin, cp.size);
      if (bytesEqual(ours, cp.root)) {
        const refused = await this.checkKeyPeriod(peer, origin, cp, local, opened.key);
        if (refused) return refused;
        if (cp.size === local) await this.keepBestNote(origin, cp, witness);
        return { status: 'up_to_date', size: local };
      }
      const held = await new CheckpointRepository(deps.db).atSize(origin, cp.size);
      return this.reject(peer, origin, 'equivocation', `${origin} signed two different trees of size ${cp.size}`, {
        checkpoint: cp.note,
        conflictsWith: held?.note ?? null,
        localRoot: toBase64(ours),
      });
    }
    // Equivocation is provable from the origin's signatures alone, so the check above runs on every
    // checkpoint. Acting on a new one is what the witness requirement gates: an uncosigned
    // checkpoint is not misbehaviour (the witness may not have seen it yet), it is just not used,
    // and a fork shown only to this node stays unused because the witness never cosigns two
    // histories.
    if (deps.requireCosignature && !deps.cosign && (!witness || !isCosigned(cp.note, witness))) {
      return { status: 'skipped', reason: `checkpoint of ${origin} at size ${cp.size} is not cosigned by the witness` };
    }
    const refused = await this.checkKeyPeriod(peer, origin, cp, local, opened.key);
    if (refused) return refused;
    try {
      return await this.extend(peer, origin, cp, local);
    } catch (err) {
      // Nothing of a page is stored before it is proven, so a bad answer mid-way leaves no trace
      // but this record (short: what was asked and what was wrong, never the body).
      if (!isNonConforming(err)) throw err;
      const evidence = nonConformingEvidence(err);
      return this.reject(peer, origin, 'bad_response', `${peer.id} served ${origin}'s log with a response no node sends: ${evidence.problem}`, { ...evidence, checkpointSize: cp.size });
    }
  }

  /**
   * Before anything of the checkpoint is stored or acted on: its key must be valid at its time
   * (PROTOCOL.md, "Key history"). A key without a period (a member that never rotated) needs no
   * lookup. A refusal is recorded like a bad signature.
   */
  private async checkKeyPeriod(peer: PeerCall, origin: string, cp: OpenedCheckpoint, local: number, key: MemberKey): Promise<IngestOutcome | undefined> {
    if (cp.size === 0 || (key.validFrom === undefined && key.validUntil === undefined)) return undefined;
    let keyError: string | undefined;
    try {
      keyError = await this.keyPeriodError(peer, origin, cp, local, key);
    } catch (err) {
      if (!isNonConforming(err)) throw err;
      const evidence = nonConformingEvidence(err);
      return this.reject(peer, origin, 'bad_response', `${peer.id} served ${origin}'s log with a response no node sends: ${evidence.problem}`, { ...evidence, checkpointSize: cp.size });
    }
    if (keyError === undefined) return undefined;
    return this.reject(peer, origin, 'bad_signature', `checkpoint of ${origin} at size ${cp.size} served by ${peer.id}: ${keyError}`, { checkpoint: cp.note });
  }

  /**
   * Checks the signing key's period against the time of the checkpoint's last entry: this node's
   * own copy when it holds it, else the entry fetched from the peer and proven included in the
   * signed root (peer data: an entry that is not, or does not decode, is a bad response).
   */
  private async keyPeriodError(peer: PeerCall, origin: string, cp: OpenedCheckpoint, local: number, key: MemberKey): Promise<string | undefined> {
    const index = cp.size - 1;
    let bytes: Uint8Array;
    if (cp.size <= local) {
      const held = await new LogReader(this.deps.db).entry(origin, index + 1);
      if (!held) throw new Error(`entry ${index} of ${origin} is missing from the store`);
      bytes = held.bytes;
    } else {
      const [fetched] = await this.fetchPage(peer, origin, index, cp.size);
      const path = federationPaths.inclusion(origin, index, cp.size);
      const body = (await this.deps.client.get(peer.endpoint, path, undefined, peer.signal)) as { proof?: unknown } | undefined;
      const proof = decodeHashList(body?.proof);
      if (!fetched || !proof || !verifyInclusion(leafHash(fetched), index, cp.size, proof, cp.root)) {
        throw new PeerError('bad_response', `GET ${path}: the last entry is not proven included in the signed root`, undefined, `GET ${path}`);
      }
      bytes = fetched;
    }
    const decoded = decodeEntry(bytes);
    if (!decoded.ok) throw new PeerError('bad_response', `entry ${index} of ${origin} is malformed`, undefined, `GET ${federationPaths.entries(origin, index, cp.size)}`);
    return checkpointKeyError(key, decoded.entry.time);
  }

  private async extend(peer: PeerCall, origin: string, cp: OpenedCheckpoint, from: number): Promise<IngestOutcome> {
    const { deps } = this;
    const pipeline = deps.pipeline ?? inProcessPipeline(deps.db);
    let size = from;
    const request = (start: number) => {
      const end = Math.min(start + deps.pageSize, cp.size);
      const pending = this.fetchRawPage(peer, origin, start, end).then((body) => ({ body, maxEntries: end - start }));
      // Awaited on the next turn of the loop, or dropped when the loop ends early.
      pending.catch(() => undefined);
      return pending;
    };
    let next = request(size);
    while (size < cp.size) {
      // Every committed page is a proven prefix, so stopping here loses nothing: a restart resumes.
      if (deps.stopping?.()) return size > from ? { status: 'extended', size, from } : { status: 'skipped', reason: 'stopping' };
      if (peer.signal.aborted) throw new PeerError('cancelled', `ingest of ${origin} from ${peer.id} cancelled after ${size - from} entries`);
      const { body, maxEntries } = await next;
      // Parsing, hashing, decoding and validating the page happen where the pipeline runs (the
      // ingest worker, at a lower priority than checks); this thread keeps the tree and the proofs.
      const prepared = await pipeline.prepare({ origin, start: size, maxEntries, body, roster: deps.roster });
      if (!prepared.ok) {
        const path = `GET ${federationPaths.entries(origin, size, size + maxEntries)}`;
        throw new PeerError('bad_response', `${path}: ${prepared.problem}`, undefined, path);
      }
      try {
        const end = size + prepared.count;
        // The next page travels while this one is proven and committed: at most two pages in memory.
        if (end < cp.size) next = request(end);
        const tree = await new LogReader(deps.db).compactRange(origin, size);
        const before = tree.root();
        for (let i = 0; i < prepared.count; i++) {
          if (i > 0 && i % YIELD_EVERY === 0) await yieldToLoop();
          tree.append(prepared.leafHashes.subarray(i * LEAF_HASH_BYTES, (i + 1) * LEAF_HASH_BYTES));
        }
        if (!(await this.proven(peer, origin, tree, end, cp))) {
          return this.diagnose(peer, origin, cp, size, before);
        }
        // Committed in slices, each its own transaction: every slice is a prefix of the proven
        // page, so a stop between two leaves a proven prefix, as between pages.
        for (let at = 0; at < prepared.good; at += COMMIT_SLICE) {
          const to = Math.min(at + COMMIT_SLICE, prepared.good);
          const completes = to === prepared.good && prepared.verdict.ok && end === cp.size;
          const checkpoint = completes ? { size: cp.size, root: cp.root, note: deps.cosign ? deps.cosign(cp.note) : cp.note } : undefined;
          await pipeline.commit(prepared.page, at, to, checkpoint, deps.now().toISOString());
        }
        const verdict = prepared.verdict;
        if (!verdict.ok) return this.reject(peer, origin, verdict.kind, verdict.message, { checkpoint: cp.note, index: verdict.index, entry: verdict.entry });
        size = end;
      } finally {
        pipeline.release(prepared.page);
      }
    }
    return { status: 'extended', size, from };
  }

  /**
   * Stores the checkpoint of the tree this node holds, preferring a witness-cosigned note, so the
   * cosignature travels with the log to every node that pulls from here.
   */
  private async keepBestNote(origin: string, cp: OpenedCheckpoint, witness: ReturnType<typeof witnessOf>): Promise<void> {
    const repo = new CheckpointRepository(this.deps.db);
    const held = await repo.atSize(origin, cp.size);
    const note = this.deps.cosign && !(witness && isCosigned(cp.note, witness)) ? this.deps.cosign(cp.note) : cp.note;
    if (!held) return repo.insert({ origin, size: cp.size, root: cp.root, note }, this.deps.now().toISOString());
    if (witness && !isCosigned(held.note, witness) && isCosigned(note, witness)) await repo.replaceNote({ origin, size: cp.size, root: cp.root, note });
  }

  /** True when the tree of size `end` (ours + the page) is a prefix of the signed tree. */
  private async proven(peer: PeerCall, origin: string, tree: CompactRange, end: number, cp: OpenedCheckpoint): Promise<boolean> {
    if (end === cp.size) return bytesEqual(tree.root(), cp.root);
    const proof = await this.consistencyProof(peer, origin, end, cp.size);
    return verifyConsistency(end, cp.size, tree.root(), cp.root, proof);
  }

  /**
   * A page did not fit the signed root. If the signed tree is not even consistent with what this
   * node already accepted, the origin rewrote its history; otherwise the peer served bad entries.
   */
  private async diagnose(peer: PeerCall, origin: string, cp: OpenedCheckpoint, local: number, localRoot: Uint8Array): Promise<IngestOutcome> {
    if (local > 0) {
      const proof = await this.consistencyProof(peer, origin, local, cp.size).catch((err: unknown) => {
        // A proof cut short by this node (its stop, the ingest deadline) proves nothing either way.
        if (isNonConforming(err) || peer.signal.aborted) throw err;
        return undefined;
      });
      if (!proof || !verifyConsistency(local, cp.size, localRoot, cp.root, proof)) {
        const held = await new CheckpointRepository(this.deps.db).latest(origin);
        // With an honest relay this proves the origin forked; a lying relay could also cause it,
        // which is why the record names the peer that served the proof.
        return this.reject(
          peer,
          origin,
          'inconsistent_checkpoint',
          `checkpoint of ${origin} at size ${cp.size}, served by ${peer.id}, could not be proven consistent with the ${local} entries already accepted`,
          {
            checkpoint: cp.note,
            accepted: held?.note ?? null,
            acceptedSize: local,
            acceptedRoot: toBase64(localRoot),
            proof: proof?.map(toBase64) ?? null,
          },
        );
      }
    }
    return this.reject(peer, origin, 'root_mismatch', `entries of ${origin} from ${local} served by ${peer.id} do not hash to the signed root`, { checkpoint: cp.note, from: local });
  }
}
