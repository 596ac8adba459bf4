/**
 * Bringing a restored node's own log back from its peers before it appends to it again
 * (docs/OPERATIONS.md, "Restore"). Entries the node appended after its backup exist only on the
 * peers that mirrored them; appending at the restored size would sign a second history, which every
 * peer records as equivocation against this member. So `jointban restore` marks the data directory
 * (`node_meta`), and a node started on it refuses its own listings and retractions until every
 * active peer in the roster has been asked for its copy of this node's log and any longer copy has
 * been pulled, proven and stored exactly as a mirrored log is (the Ingestor: signature with this
 * member's own key, consistency with what the node holds, inclusion of every page). Checks are
 * served all along: they append nothing.
 *
 * A peer that cannot be reached keeps the node waiting, because it may be the one that holds the
 * newest entries; `jointban own-log --abandon-recovery` lifts the wait when an operator knows
 * better. The mark is re-read each round, so that command takes effect on a running node.
 *
 * Every checkpoint of the own log a peer shows, signed with this node's key, is remembered in the
 * mark (`knownSize`): some peer, or the witness that cosigned it, has seen entries up to that size.
 * Appending below it would give one of those positions (a listing id) a second meaning, a fork every
 * holder records as equivocation, so neither the recovery nor `--abandon-recovery` lifts the mark
 * while the node holds fewer entries (docs/OPERATIONS.md, "Losing a node's disk"). A peer that
 * holds entries beyond the checkpoint it serves (a pull cut short after a page) has seen them too,
 * but cannot prove it (any peer could claim so), so it only keeps the node waiting for it, as a
 * peer that does not answer does, and the operator may abandon the wait.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { activePeers, openMemberCheckpoint, type Roster } from '../roster/index.js';
import { LogReader } from '../store/log-repository.js';
import { NodeMetaRepository } from '../store/node-meta-repository.js';
import type { Database } from '../store/tables.js';
import type { Peer } from './ingest.js';
import { federationPaths } from './paths.js';
import { PeerError, type PeerClient } from './peer-client.js';
import type { Synchronizer } from './sync.js';

/** The `node_meta` key of the mark: JSON `{since, reason}`. */
export const OWN_LOG_RECOVERY = 'own_log.recovery';

export interface OwnLogRecoveryMark {
  /** When the mark was set. */
  since: string;
  /** What set it: `restore`, or `peer_ahead` (a peer showed more of the own log at start). */
  reason: string;
  /** The largest size of the own log that a peer showed a checkpoint of, signed with this node's key. */
  knownSize?: number;
  /** The peer that showed it. */
  knownFrom?: string;
}

export async function markOwnLogRecovery(db: Kysely<Database>, mark: OwnLogRecoveryMark): Promise<void> {
  await new NodeMetaRepository(db).put(OWN_LOG_RECOVERY, JSON.stringify(mark));
}

export async function readOwnLogRecovery(db: Kysely<Database>): Promise<OwnLogRecoveryMark | undefined> {
  const text = await new NodeMetaRepository(db).get(OWN_LOG_RECOVERY);
  return text === undefined ? undefined : (JSON.parse(text) as OwnLogRecoveryMark);
}

/**
 * The operator's `--abandon-recovery`: removes the mark unless a peer has shown a signed checkpoint
 * of the own log beyond what this node holds (those entries must come back first: appending would
 * fork the log). True if there was a mark.
 */
export async function abandonOwnLogRecovery(db: Kysely<Database>, self: string): Promise<boolean> {
  const mark = await readOwnLogRecovery(db);
  const size = await new LogReader(db).size(self);
  if (mark?.knownSize !== undefined && mark.knownSize > size) {
    throw new AppError(
      'conflict',
      `${mark.knownFrom ?? 'a peer'} has seen ${self}'s log up to size ${mark.knownSize} (a checkpoint signed by this node) and this node holds ${size} entries: appending now would reuse ids ${self}:${size + 1}…${mark.knownSize} and fork the log. Bring back a node that holds those entries (or restore a newer backup); see docs/OPERATIONS.md, "Losing a node's disk"`,
    );
  }
  return clearOwnLogRecovery(db);
}

/** The `node_meta` key of the recovery's progress, so `jointban own-log` can say whom it waits for. */
export const OWN_LOG_RECOVERY_PROGRESS = 'own_log.recovery.progress';

export interface OwnLogRecoveryProgress {
  /** The mark's `since`: progress of an earlier recovery is not this one's. */
  since: string;
  /** Peers that have answered. */
  answered: string[];
  /** The size of this node's log each answering peer holds (its checkpoint; 0: none). */
  peerSizes: Record<string, number>;
}

export async function readOwnLogRecoveryProgress(db: Kysely<Database>, mark: OwnLogRecoveryMark): Promise<OwnLogRecoveryProgress | undefined> {
  const text = await new NodeMetaRepository(db).get(OWN_LOG_RECOVERY_PROGRESS);
  const progress = text === undefined ? undefined : (JSON.parse(text) as OwnLogRecoveryProgress);
  return progress?.since === mark.since ? progress : undefined;
}

/** Removes the mark; true if there was one. */
export async function clearOwnLogRecovery(db: Kysely<Database>): Promise<boolean> {
  const result = await db.deleteFrom('node_meta').where('key', '=', OWN_LOG_RECOVERY).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export interface OwnLogRecoveryStatus {
  since: string;
  reason: string;
  /** The size of the own log this node holds now. */
  size: number;
  /** Active peers that have answered with their copy (or with none). */
  answered: string[];
  /** Active peers still to answer: writes stay refused until this is empty. */
  waitingFor: string[];
  /** The largest size of the own log a peer showed a checkpoint of, signed by this node (null: none). */
  knownSize: number | null;
  /** Peers (in waitingFor) that hold entries of the own log beyond the checkpoint they serve, and up to what size at least. */
  heldBeyondCheckpoint: Record<string, number>;
  /** The size of this node's log each answering peer holds: the recovery reaches the largest. */
  peerSizes: Record<string, number>;
}

export interface OwnLogRecoveryDeps {
  db: Kysely<Database>;
  self: string;
  roster: () => Roster | undefined;
  /** For the one request the ingest does not make: whether a peer holds entries beyond its checkpoint. */
  client: Pick<PeerClient, 'get'>;
  /** The sync loop's checkpoint list reader and ingest, so a copy of the own log is proven as any mirrored log is. */
  sync: Pick<Synchronizer, 'checkpointsOf' | 'ingestorFor' | 'signal'>;
  pollIntervalMs: number;
  /** The longest the start-up comparison holds own-log writes back (sync.requestTimeoutMs). */
  startupCheckMs: number;
  logger: Logger;
  /** Called after entries of the own log were pulled (the federation announces them). */
  onExtended: (size: number, from: Peer) => void;
}

export class OwnLogRecovery {
  private mark: OwnLogRecoveryMark | undefined;
  private readonly answered = new Set<string>();
  /** Peers holding entries of the own log beyond the checkpoint they serve: at least up to this size. */
  private readonly unproven = new Map<string, number>();
  private readonly peerSizes = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  /** While set and in the future, the start-up comparison has not ended: own-log writes wait. */
  private holdUntil: number | undefined;

  constructor(private readonly deps: OwnLogRecoveryDeps) {}

  /** Reads the mark: before the node accepts writes. */
  async load(): Promise<void> {
    this.mark = await readOwnLogRecovery(this.deps.db);
  }

  get pending(): boolean {
    return this.mark !== undefined;
  }

  /** Throws `unavailable` (503) while the own log may still be behind the peers' copies. */
  assertWritable(): void {
    if (this.holdUntil !== undefined && this.mark === undefined) {
      if (Date.now() < this.holdUntil) {
        throw new AppError(
          'recovering',
          "this node has just started and is comparing its own log with its peers' copies (so that a database copied into place cannot reuse an id a peer has seen); retry in a moment",
        );
      }
      this.holdUntil = undefined;
    }
    if (this.mark === undefined) return;
    throw new AppError(
      'unavailable',
      `${this.mark.reason === 'peer_ahead' ? "a peer holds more of this node's own log than this node does (data was lost)" : 'this node was restored from a backup'} (${this.mark.since}) and is still fetching its own log back from its peers${this.mark.knownSize !== undefined ? ` (a peer has seen it up to size ${this.mark.knownSize})` : ''}; it lists and retracts nothing until then (see GET /v1/federation/status, ownLogRecovery)`,
    );
  }

  /**
   * Holds own-log writes (503 `recovering`) from now until the start-up comparison ends, at most
   * `startupCheckMs` after it: called as the node starts to listen, before any request can arrive.
   */
  holdForStartupCheck(): void {
    if (this.mark === undefined) this.holdUntil = Date.now() + this.deps.startupCheckMs;
  }

  /** Resolves once the start-up comparison has ended, or its deadline has passed. */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.mark !== undefined) {
      this.schedule(0);
      return;
    }
    const check = this.checkBehind()
      .catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'own log check against the peers failed'))
      .finally(() => {
        this.holdUntil = undefined;
      });
    this.running = check;
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      deadline = setTimeout(resolve, this.deps.startupCheckMs);
      deadline.unref();
    });
    await Promise.race([check, expired]);
    clearTimeout(deadline);
  }

  /**
   * A node started on data that `jointban restore` did not mark (a database copied into place by
   * hand, or a fresh one under an existing member's key) can be behind its own log as its peers
   * hold it, which only a loss of data explains: peers get this log only from this node. Once at
   * start, each active peer's checkpoint of the own log is read; one signed by this node beyond
   * what it holds sets the mark (reason `peer_ahead`), and the node recovers as after a restore.
   * The peers are asked at once, and own-log writes are held back (503 `recovering`) until all
   * have answered or failed, or `startupCheckMs` (sync.requestTimeoutMs) has passed: an ordinary
   * restart waits one round trip. A peer that answers after the deadline can still set the mark,
   * but writes made before it are not undone: this is a safety net under `jointban restore`
   * (which marks first), not a replacement for it (docs/OPERATIONS.md, "Losing a node's disk").
   */
  private async checkBehind(): Promise<void> {
    const { deps } = this;
    const roster = deps.roster();
    if (roster === undefined) return;
    const sizes = await Promise.all(
      activePeers(roster, deps.self).map(async (member) => {
        const peer = { id: member.id, endpoint: member.endpoint };
        const ours = await deps.sync.checkpointsOf(peer).then(
          (list) => list.find((cp) => cp.origin === deps.self),
          () => undefined,
        );
        const opened = ours ? openMemberCheckpoint(roster, deps.self, ours.note) : undefined;
        return opened?.ok ? { peer, size: opened.checkpoint.size } : undefined;
      }),
    );
    const ahead = sizes.reduce<{ peer: Peer; size: number } | undefined>((best, s) => (s !== undefined && s.size > (best?.size ?? 0) ? s : best), undefined);
    if (this.stopped || this.mark !== undefined || ahead === undefined || ahead.size <= (await new LogReader(deps.db).size(deps.self))) return;
    this.mark = { since: new Date().toISOString(), reason: 'peer_ahead', knownSize: ahead.size, knownFrom: ahead.peer.id };
    await markOwnLogRecovery(deps.db, this.mark);
    deps.logger.error({ peer: ahead.peer.id, size: ahead.size }, "a peer holds more of this node's own log than the node: data was lost; writes are refused until it is fetched back");
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  async status(): Promise<OwnLogRecoveryStatus | null> {
    const mark = this.mark;
    if (mark === undefined) return null;
    const roster = this.deps.roster();
    const peers = roster === undefined ? [] : activePeers(roster, this.deps.self).map((m) => m.id);
    return {
      since: mark.since,
      reason: mark.reason,
      size: await new LogReader(this.deps.db).size(this.deps.self),
      answered: peers.filter((p) => this.answered.has(p)),
      waitingFor: peers.filter((p) => !this.answered.has(p)),
      knownSize: mark.knownSize ?? null,
      heldBeyondCheckpoint: Object.fromEntries(this.unproven),
      peerSizes: Object.fromEntries(this.peerSizes),
    };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round()
        .catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'own log recovery round failed'))
        .then(() => {
          if (this.mark !== undefined) this.schedule(this.deps.pollIntervalMs);
        });
    }, ms);
    this.timer.unref();
  }

  /** Asks every active peer that has not answered yet; lifts the mark once all have. */
  async round(): Promise<void> {
    const { deps } = this;
    this.mark = await readOwnLogRecovery(deps.db);
    if (this.mark === undefined) return;
    // No roster (loaded from the database before this first runs): no peers, so nobody holds more.
    const roster = deps.roster();
    const peers = roster === undefined ? [] : activePeers(roster, deps.self);
    for (const member of peers) {
      if (this.answered.has(member.id) || this.stopped || roster === undefined) continue;
      await this.ask(roster, { id: member.id, endpoint: member.endpoint });
    }
    if (this.mark !== undefined) {
      const progress: OwnLogRecoveryProgress = { since: this.mark.since, answered: [...this.answered], peerSizes: Object.fromEntries(this.peerSizes) };
      await new NodeMetaRepository(deps.db).put(OWN_LOG_RECOVERY_PROGRESS, JSON.stringify(progress));
    }
    if (this.stopped || !peers.every((m) => this.answered.has(m.id))) return;
    const size = await new LogReader(deps.db).size(deps.self);
    if (this.mark.knownSize !== undefined && this.mark.knownSize > size) {
      deps.logger.error({ size, knownSize: this.mark.knownSize, from: this.mark.knownFrom }, 'own log recovery: a peer has seen the own log beyond what any peer serves; writes stay refused');
      return;
    }
    await clearOwnLogRecovery(deps.db);
    this.mark = undefined;
    deps.logger.info({ size: await new LogReader(deps.db).size(deps.self), peers: peers.length }, 'own log recovered: every peer answered; writes are accepted again');
  }

  /** Keeps the size of a checkpoint of the own log signed by this node, if it is the largest seen. */
  private async remember(peer: Peer, size: number): Promise<void> {
    const mark = this.mark;
    if (mark === undefined || size <= (mark.knownSize ?? 0)) return;
    this.mark = { ...mark, knownSize: size, knownFrom: peer.id };
    await markOwnLogRecovery(this.deps.db, this.mark);
  }

  /**
   * Whether the peer holds entries of the own log beyond `size` that it serves no checkpoint for:
   * a pull of them that stopped before its last page (ingest.ts commits page by page). Those
   * positions have been seen, so they must not be given to other entries either.
   */
  private async holdsMore(peer: Peer, size: number): Promise<boolean> {
    try {
      // The sync loop's signal, as for the ingest: the federation's stop cuts this request too.
      const path = federationPaths.entries(this.deps.self, size, size + 1);
      const body = (await this.deps.client.get(peer.endpoint, path, undefined, this.deps.sync.signal)) as { entries?: unknown } | undefined;
      if (Array.isArray(body?.entries) && body.entries.length > 0) return true;
      throw new Error(`GET ${federationPaths.entries(this.deps.self, size, size + 1)}: expected a 404 or one entry`);
    } catch (err) {
      if (err instanceof PeerError && err.status === 404) return false;
      throw err;
    }
  }

  /** Asks one peer for its copy of the own log and pulls what it has beyond this node's. */
  private async ask(roster: Roster, peer: Peer): Promise<void> {
    const { deps } = this;
    try {
      const ours = (await deps.sync.checkpointsOf(peer)).find((cp) => cp.origin === deps.self);
      // The peer's claim, reported as such: what it proves is what the ingest below stores.
      this.peerSizes.set(peer.id, ours?.size ?? 0);
      if (ours !== undefined) {
        const opened = openMemberCheckpoint(roster, deps.self, ours.note);
        if (opened.ok) await this.remember(peer, opened.checkpoint.size);
        const outcome = await deps.sync.ingestorFor(roster).ingest(peer, ours);
        if (outcome.status === 'rejected') {
          deps.logger.warn({ peer: peer.id, kind: outcome.kind }, "own log recovery: the peer served a copy of this node's log that does not verify");
          return;
        }
        // Not acted on yet (an uncosigned checkpoint where cosignatures are required): ask again.
        if (outcome.status === 'skipped') return;
        if (outcome.status === 'extended') {
          deps.logger.info({ peer: peer.id, size: outcome.size }, 'own log recovery: entries appended after the backup fetched back');
          deps.onExtended(outcome.size, peer);
        }
      }
      if (this.stopped) return;
      const size = await new LogReader(deps.db).size(deps.self);
      if (await this.holdsMore(peer, size)) {
        this.unproven.set(peer.id, size + 1);
        deps.logger.warn({ peer: peer.id, size }, "own log recovery: the peer holds entries of this node's log beyond any checkpoint it serves");
        return;
      }
      this.unproven.delete(peer.id);
      this.answered.add(peer.id);
    } catch (err) {
      deps.logger.debug({ peer: peer.id, err: (err as Error).message }, 'own log recovery: peer not answering');
    }
  }
}
