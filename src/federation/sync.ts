/**
 * The sync loop: for every active peer in the roster, pull every origin's log for which the peer
 * has a newer checkpoint, so entries travel through intermediaries when their origin is offline.
 * A notify wakes the peer's loop at once; a periodic poll catches missed notifications; failures
 * back off exponentially per peer, with a cap and jitter. While a peer is backed off, only a notify
 * that announces entries this node lacks shortens the wait, and never below `backoffBaseMs` after
 * the last attempt: otherwise any member could keep another's loop busy by notifying it. One origin is ingested by one peer at a
 * time, so two peers never race to append the same entries.
 *
 * Nothing a peer does holds a loop for long (docs/SECURITY.md, "A trickling peer"): each request
 * has a deadline the node holds (bounded-fetch.ts), each ingest one more (sync.ingestTimeoutMs),
 * and a round waits for a busy origin at most sync.requestTimeoutMs before it leaves the origin to
 * the ingest that holds it. A roster change that drops the peer, and stop(), cancel its round.
 */
import { setMaxListeners } from 'node:events';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { isMemberId } from '../log/entry-schema.js';
import { activePeers, type Roster } from '../roster/index.js';
import { LogReader } from '../store/log-repository.js';
import type { MisbehaviourRepository } from '../store/misbehaviour-repository.js';
import type { Database } from '../store/tables.js';
import { Ingestor, type AdvertisedCheckpoint, type IngestOutcome, type Peer } from './ingest.js';
import { inProcessPipeline, type IngestPipeline } from './ingest-commit.js';
import { KeyedLock, LockWaitTimeout } from './keyed-lock.js';
import { isNonConforming, nonConformingEvidence, PeerError, type PeerClient } from './peer-client.js';
import { parseHeldEpochs } from './held-epochs.js';
import { federationPaths } from './paths.js';
import { WorkerPipeline } from './worker-committer.js';

export interface SyncOptions {
  pollIntervalMs: number;
  /** Every request; also how long a round waits for an origin another peer is ingesting. */
  requestTimeoutMs: number;
  /** One origin's ingest from one peer, all pages: past it the ingest stops (committed pages stay) and the round fails. */
  ingestTimeoutMs: number;
  requireCosignature: boolean;
  pageSize: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface SyncDeps {
  db: Kysely<Database>;
  self: string;
  federation: string;
  client: PeerClient;
  misbehaviour: MisbehaviourRepository;
  options: SyncOptions;
  cosign?: ((note: string) => string) | undefined;
  now: () => Date;
  logger: Logger;
  /** Called after new entries of an origin were committed. */
  onExtended: (origin: string, size: number, from: Peer) => void;
  /**
   * The worker script that parses, validates and commits pages of mirrored logs off the main
   * thread (worker-committer.ts); the compiled one beside the sources by default, `false` for the
   * main thread.
   */
  commitWorker?: URL | false | undefined;
}

export interface PeerStatus {
  member: string;
  endpoint: string;
  lastAttemptAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  /** Failed rounds since the node started (a request or ingest past its deadline included). */
  failedRounds: number;
  nextAttemptAt: string | null;
  /** The sizes this peer advertised at the last successful poll, per origin. */
  advertised: Record<string, number>;
  /** The token epochs the peer named in its last checkpoint list; null until then, or from a node of an earlier version. */
  epochs: number[] | null;
}

interface PeerState extends PeerStatus {
  timer: NodeJS.Timeout | undefined;
  running: boolean;
  again: boolean;
  /** Cancels the round in flight: the peer left the roster or was suspended, or the node stops. */
  abort: AbortController | undefined;
}

const MAX_CHECKPOINTS_LISTED = 1000;
const CHECKPOINTS_REQUEST = `GET ${federationPaths.checkpoints()}`;

/**
 * Reads a peer's checkpoint list (peer data: checked field by field). One checkpoint per origin,
 * each origin a member id: so a list costs at most one signature check per roster member, however
 * long the peer makes it.
 */
function parseCheckpointList(body: unknown): { checkpoints: AdvertisedCheckpoint[]; epochs: number[] | null } {
  const bad = (problem: string) => new PeerError('bad_response', `${CHECKPOINTS_REQUEST}: ${problem}`, undefined, CHECKPOINTS_REQUEST);
  const list = (body as { checkpoints?: unknown } | undefined)?.checkpoints;
  if (!Array.isArray(list)) throw bad('checkpoint list is malformed');
  const epochs = parseHeldEpochs((body as { epochs?: unknown }).epochs);
  if (!epochs.ok) throw bad(epochs.error);
  if (list.length > MAX_CHECKPOINTS_LISTED) throw bad(`checkpoint list has more than ${MAX_CHECKPOINTS_LISTED} items`);
  const seen = new Set<string>();
  const checkpoints = list.map((item: unknown, i) => {
    const { origin, size, note } = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    if (!isMemberId(origin) || typeof note !== 'string' || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw bad(`checkpoint list item ${i} is malformed`);
    }
    if (seen.has(origin)) throw bad(`checkpoint list names ${origin} twice`);
    seen.add(origin);
    return { origin, size, note };
  });
  return { checkpoints, epochs: epochs.epochs };
}

export class Synchronizer {
  private roster: Roster | undefined;
  private readonly peers = new Map<string, PeerState>();
  private readonly originLock = new KeyedLock();
  /** Rounds in flight (from the timer or syncOnce), for stop() to wait on. */
  private readonly rounds = new Set<Promise<void>>();
  /** Aborted by stop(): cancels every request and ingest of this loop and of own-log recovery. */
  private lifetime = Synchronizer.lifetimeController();
  private stopped = true;

  private readonly pipeline: IngestPipeline;

  constructor(private readonly deps: SyncDeps) {
    this.pipeline = deps.commitWorker === false ? inProcessPipeline(deps.db) : WorkerPipeline.create(deps.db, deps.logger, deps.commitWorker);
  }

  /** One listener per round and per ingest in flight: as many as there are peers, not a leak. */
  private static lifetimeController(): AbortController {
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    return controller;
  }

  /**
   * Aborted by stop(): the other loops' requests (own-log recovery, the cosignature collector) take
   * it, so that the federation's stop cuts them too. Read it per request: start() renews it.
   */
  get signal(): AbortSignal {
    return this.lifetime.signal;
  }

  start(): void {
    this.stopped = false;
    if (this.lifetime.signal.aborted) this.lifetime = Synchronizer.lifetimeController();
    for (const state of this.peers.values()) this.schedule(state, 0);
  }

  /**
   * Cancels every request in flight (bounded-fetch destroys its socket at once), so a round ends
   * after at most the page it is committing: a trickling peer cannot hold a stop.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.peers.values()) if (state.timer) clearTimeout(state.timer);
    this.lifetime.abort();
    await Promise.allSettled([...this.rounds]);
    await this.pipeline.close();
  }

  /** Adopts a new roster: starts loops for new peers, drops removed or suspended ones. */
  setRoster(roster: Roster): void {
    this.roster = roster;
    const wanted = new Map(activePeers(roster, this.deps.self).map((m) => [m.id, m.endpoint]));
    for (const [id, state] of this.peers) {
      if (wanted.get(id) !== state.endpoint) {
        if (state.timer) clearTimeout(state.timer);
        // A suspended member's round in flight stops now, not when its peer chooses to answer.
        state.abort?.abort();
        this.peers.delete(id);
      }
    }
    for (const [id, endpoint] of wanted) {
      if (this.peers.has(id)) continue;
      const state: PeerState = {
        member: id,
        endpoint,
        lastAttemptAt: null,
        lastSuccessAt: null,
        lastError: null,
        consecutiveFailures: 0,
        failedRounds: 0,
        nextAttemptAt: null,
        advertised: {},
        epochs: null,
        timer: undefined,
        running: false,
        again: false,
        abort: undefined,
      };
      this.peers.set(id, state);
      if (!this.stopped) this.schedule(state, 0);
    }
  }

  /**
   * A peer said it has entries of `origin` up to `size`: pull from it now, or, while its rounds are
   * failing, as soon as the backoff floor allows and only if that is news to this node.
   */
  notify(peerId: string, origin: string, size: number): void {
    const state = this.peers.get(peerId);
    if (!state || this.stopped) return;
    if (state.consecutiveFailures === 0) return this.wake(state);
    void this.notifyWhileBackingOff(state, origin, size).catch((err: unknown) => {
      this.deps.logger.debug({ peer: peerId, err: (err as Error).message }, 'notify ignored');
    });
  }

  /**
   * Runs a round against the peer now, whatever its backoff: the loop's own code, as the timer
   * would start it (the memory tests drive thousands of failed rounds through it).
   */
  retryNow(peerId: string): void {
    const state = this.peers.get(peerId);
    if (state && !this.stopped) this.wake(state);
  }

  private wake(state: PeerState): void {
    if (state.running) state.again = true;
    else this.schedule(state, 0);
  }

  private async notifyWhileBackingOff(state: PeerState, origin: string, size: number): Promise<void> {
    // The announced size is the peer's claim; what counts as news is what this node lacks.
    if (origin === this.deps.self || size <= (await new LogReader(this.deps.db).size(origin))) return;
    if (this.stopped || state.running || state.consecutiveFailures === 0 || this.peers.get(state.member) !== state) return;
    const floor = Date.parse(state.lastAttemptAt ?? '') + this.deps.options.backoffBaseMs;
    const now = Date.now();
    const due = Date.parse(state.nextAttemptAt ?? '');
    const at = Number.isNaN(floor) ? now : Math.max(now, floor);
    if (Number.isNaN(due) || at < due) this.schedule(state, at - now);
  }

  status(): PeerStatus[] {
    return [...this.peers.values()].map(({ timer: _t, running: _r, again: _a, abort: _c, ...s }) => s);
  }

  /** Runs one round against one peer now (tests and `sync now` use it). */
  async syncOnce(peerId: string): Promise<void> {
    const state = this.peers.get(peerId);
    if (state) await this.tracked(state);
  }

  /** A round, cancelled with the peer's removal or the node's stop, and known to stop(). */
  private async tracked(state: PeerState): Promise<void> {
    const abort = new AbortController();
    const onStop = () => abort.abort();
    this.lifetime.signal.addEventListener('abort', onStop, { once: true });
    if (this.lifetime.signal.aborted) abort.abort();
    state.abort = abort;
    const round = this.round(state, abort.signal);
    this.rounds.add(round);
    try {
      await round;
    } finally {
      this.rounds.delete(round);
      this.lifetime.signal.removeEventListener('abort', onStop);
      if (state.abort === abort) state.abort = undefined;
    }
  }

  private schedule(state: PeerState, delayMs: number): void {
    if (state.timer) clearTimeout(state.timer);
    state.nextAttemptAt = new Date(Date.now() + delayMs).toISOString();
    state.timer = setTimeout(() => void this.run(state), delayMs);
    state.timer.unref();
  }

  private async run(state: PeerState): Promise<void> {
    state.timer = undefined;
    if (this.stopped || this.peers.get(state.member) !== state) return;
    state.running = true;
    state.again = false;
    let ok = false;
    try {
      await this.tracked(state);
      ok = true;
    } catch (err) {
      state.consecutiveFailures += 1;
      state.failedRounds += 1;
      state.lastError = err instanceof Error ? err.message : String(err);
      this.deps.logger.debug({ peer: state.member, err: state.lastError }, 'sync round failed');
    } finally {
      state.running = false;
    }
    if (this.stopped) return;
    const { options } = this.deps;
    if (ok && state.again) return this.schedule(state, 0);
    if (ok) return this.schedule(state, options.pollIntervalMs);
    const exp = Math.min(options.backoffMaxMs, options.backoffBaseMs * 2 ** Math.min(state.consecutiveFailures - 1, 30));
    this.schedule(state, Math.round(exp * (0.5 + Math.random() * 0.5)));
  }

  private async round(state: PeerState, signal: AbortSignal): Promise<void> {
    const { deps } = this;
    const roster = this.roster;
    if (!roster) return;
    state.lastAttemptAt = deps.now().toISOString();
    const peer: Peer = { id: state.member, endpoint: state.endpoint };
    const { checkpoints: advertised, epochs } = await this.checkpointListOf(peer, signal);
    state.epochs = epochs;
    state.advertised = Object.fromEntries(advertised.map((a) => [a.origin, a.size]));
    const ingestor = this.ingestorFor(roster, signal);
    let failure: string | undefined;
    for (const cp of advertised) {
      if (cp.origin === deps.self) continue;
      let outcome: IngestOutcome;
      try {
        // The wait is bounded: an origin another peer is ingesting is left to that ingest (itself
        // bounded by sync.ingestTimeoutMs), and this round goes on with the next origin.
        outcome = await this.originLock.run(cp.origin, () => ingestor.ingest(peer, cp), { waitMs: deps.options.requestTimeoutMs, signal });
      } catch (err) {
        if (!(err instanceof LockWaitTimeout) || signal.aborted) throw err;
        deps.logger.debug({ peer: peer.id, origin: cp.origin }, 'origin busy with another peer: left to that ingest');
        continue;
      }
      if (outcome.status === 'extended') deps.onExtended(cp.origin, outcome.size, peer);
      if (outcome.status === 'rejected') failure = `${cp.origin}: ${outcome.kind}`;
    }
    if (failure) throw new Error(`rejected data from ${peer.id} (${failure})`);
    state.consecutiveFailures = 0;
    state.lastError = null;
    state.lastSuccessAt = deps.now().toISOString();
  }

  /**
   * An Ingestor with this loop's settings, for one roster (own-log-recovery.ts uses it too). Its
   * ingests end when `signal` aborts, and with the loop's stop when none is given.
   */
  ingestorFor(roster: Roster, signal: AbortSignal = this.lifetime.signal): Ingestor {
    const { deps } = this;
    return new Ingestor({
      db: deps.db,
      federation: deps.federation,
      roster,
      client: deps.client,
      misbehaviour: deps.misbehaviour,
      pageSize: deps.options.pageSize,
      requireCosignature: deps.options.requireCosignature,
      cosign: deps.cosign,
      now: deps.now,
      logger: deps.logger,
      stopping: () => this.stopped,
      signal,
      timeoutMs: deps.options.ingestTimeoutMs,
      pipeline: this.pipeline,
    });
  }

  /** The peer's checkpoint list; a non-conforming answer is recorded as `bad_response` of the peer. */
  async checkpointsOf(peer: Peer, signal: AbortSignal = this.lifetime.signal): Promise<AdvertisedCheckpoint[]> {
    return (await this.checkpointListOf(peer, signal)).checkpoints;
  }

  /** The checkpoint list with the token epochs the peer names beside it (held-epochs.ts). */
  private async checkpointListOf(peer: Peer, signal: AbortSignal): Promise<{ checkpoints: AdvertisedCheckpoint[]; epochs: number[] | null }> {
    try {
      return parseCheckpointList(await this.deps.client.get(peer.endpoint, federationPaths.checkpoints(), undefined, signal));
    } catch (err) {
      if (isNonConforming(err)) {
        const evidence = nonConformingEvidence(err);
        const message = `${peer.id} answered ${CHECKPOINTS_REQUEST} with a response no node sends: ${evidence.problem}`;
        const fresh = await this.deps.misbehaviour.record({ kind: 'bad_response', origin: peer.id, peer: peer.id, detectedAt: this.deps.now().toISOString(), message, evidence });
        if (fresh) this.deps.logger.warn({ kind: 'bad_response', peer: peer.id, message }, 'misbehaviour detected');
      }
      throw err;
    }
  }
}
