/**
 * The federation side of a node, assembled: the roster it trusts, the signer of its own
 * checkpoints, the sync loop that mirrors every other log, notifications to peers, and the status
 * the admin endpoint reports. Built by the composition root (src/node.ts).
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { NodeConfig } from '../config/load.js';
import { activePeers, memberStatusAt, requestKeys, type Roster } from '../roster/index.js';
import type { CheckpointRepository } from '../store/checkpoint-repository.js';
import type { LogReader } from '../store/log-repository.js';
import type { Misbehaviour, MisbehaviourRepository } from '../store/misbehaviour-repository.js';
import type { RosterRepository } from '../store/roster-repository.js';
import type { Database } from '../store/tables.js';
import { RateLimiter } from '../common/rate-limiter.js';
import { CheckpointSigner, type SignedCheckpoint, type SigningRefusal } from './checkpoint-signer.js';
import { PeerClient } from './peer-client.js';
import { federationPaths } from './paths.js';
import { nonceQuota, ReplayCache } from './replay-cache.js';
import { ownAuthorities } from './request-signature.js';
import { RosterHolder, type TrustRoot } from './roster-holder.js';
import type { SigningKeys } from './signing-keys.js';
import { epochsStatus, type EpochsStatus } from './held-epochs.js';
import { federationRoutes } from './routes.js';
import { OwnLogRecovery, type OwnLogRecoveryStatus } from './own-log-recovery.js';
import { CosignatureCollector } from './cosignature-collector.js';
import { cosign, isCosigned, witnessOf } from '../roster/witness.js';
import { cosignMemberCheckpoints } from './witness-requests.js';
import { Synchronizer, type PeerStatus } from './sync.js';
import { WitnessedDurability } from './witnessed-durability.js';

/**
 * What the federation part takes from the composition root (src/context.ts's AppContext has all of
 * it): it builds its own parts over these, never a second database or key.
 */
export interface FederationContext {
  readonly config: NodeConfig;
  readonly db: Kysely<Database>;
  readonly repos: { checkpoints: CheckpointRepository; log: LogReader; misbehaviour: MisbehaviourRepository; rosters: RosterRepository };
  readonly logger: Logger;
  readonly now: () => Date;
  /** The node's keys: its key file, and the next one during a rotation. */
  signingKeys(): SigningKeys;
  trustRoot(): TrustRoot | undefined;
}

export interface FederationDeps {
  context: FederationContext;
  /** Called with each roster adopted (at start too), after the sync loops follow it. */
  onRosterChange?: ((roster: Roster) => void) | undefined;
  /** Passed to the sync loop (SyncDeps.commitWorker). */
  commitWorker?: URL | false | undefined;
}

export interface OriginStatus {
  origin: string;
  size: number;
  checkpointSize: number | null;
  checkpointRecordedAt: string | null;
  /** Whether the latest checkpoint carries the witness's cosignature (null: no witness known). */
  cosigned: boolean | null;
  /** Per peer: how many entries the peer advertised beyond what this node holds (0 = caught up). */
  lagByPeer: Record<string, number>;
}

export interface FederationStatus {
  member: string;
  federation: string;
  roster: { version: number; members: number } | null;
  peers: PeerStatus[];
  origins: OriginStatus[];
  misbehaviour: Misbehaviour[];
  /** Set while a restored node is still fetching its own log back from its peers (writes refused). */
  ownLogRecovery: OwnLogRecoveryStatus | null;
  /** Set while the node refuses to sign its own checkpoints: the roster makes none of its keys valid. */
  signingRefused: SigningRefusal | null;
  /** The token epochs this node holds, and those each peer names (held-epochs.ts); numbers only. */
  epochs: EpochsStatus;
}

export class Federation {
  readonly signer: CheckpointSigner;
  readonly roster: RosterHolder;
  readonly sync: Synchronizer;
  /** After a restore: the own log fetched back from peers before the node appends to it. */
  readonly ownLog: OwnLogRecovery;
  /** Waits for the witness's cosignature of the own log (durability.mode "witnessed"). */
  readonly witnessed: WitnessedDurability;
  readonly misbehaviour: MisbehaviourRepository;
  /** On a member's node: fetches the witness's cosignatures of the checkpoints it holds. */
  readonly cosignatures: CosignatureCollector | undefined;
  readonly routes: ReturnType<typeof federationRoutes>;
  private readonly client: PeerClient;
  private readonly heldEpochs: readonly number[];
  private readonly context: FederationContext;

  constructor(deps: FederationDeps) {
    const context = deps.context;
    this.context = context;
    const { config, db, logger, now } = context;
    const signingKeys = context.signingKeys();
    this.heldEpochs = config.epochs.map((e) => e.epoch).sort((a, b) => a - b);
    const nowSeconds = () => Math.floor(now().getTime() / 1000);
    // The association's node is the federation's witness: it cosigns what it has verified.
    const keyAt = (time: string | undefined) => signingKeys.at(this.roster.current(), config.member, time)?.secretKey;
    const keyNow = () => signingKeys.now(this.roster.current(), config.member, now().toISOString()).secretKey;
    const witnessCosign = config.role === 'association' ? (note: string) => cosign(note, config.federation, keyNow(), now()) : undefined;
    const transition = config.sync.requestAuthority === 'transition';
    this.client = new PeerClient({
      self: config.member,
      secretKey: keyNow,
      timeoutMs: config.sync.requestTimeoutMs,
      maxResponseBytes: config.sync.maxResponseBytes,
      nowSeconds,
      transitionSignatures: transition,
    });
    this.misbehaviour = context.repos.misbehaviour;
    this.signer = new CheckpointSigner({
      db,
      member: config.member,
      federation: config.federation,
      keyFor: keyAt,
      intervalMs: config.checkpoints.intervalMs,
      maxEntries: config.checkpoints.maxEntries,
      cosign: witnessCosign,
      now,
      logger,
      onSigned: (cp) => this.announce(cp.origin, cp.size, undefined),
    });
    this.sync = new Synchronizer({
      db,
      self: config.member,
      federation: config.federation,
      client: this.client,
      misbehaviour: this.misbehaviour,
      options: config.sync,
      cosign: witnessCosign,
      now,
      logger,
      onExtended: (origin, size, from) => this.announce(origin, size, from.id),
      commitWorker: deps.commitWorker,
    });
    this.ownLog = new OwnLogRecovery({
      db,
      self: config.member,
      roster: () => this.roster.current(),
      client: this.client,
      sync: this.sync,
      pollIntervalMs: config.sync.pollIntervalMs,
      startupCheckMs: config.sync.requestTimeoutMs,
      logger,
      onExtended: (size, from) => this.announce(config.member, size, from.id),
    });
    this.witnessed = new WitnessedDurability({
      db,
      self: config.member,
      isWitness: config.role === 'association',
      roster: () => this.roster.current(),
      sync: this.sync,
      timeoutMs: config.durability.witnessTimeoutMs,
      pollIntervalMs: config.durability.witnessPollMs,
      logger,
    });
    this.cosignatures =
      config.role === 'member'
        ? new CosignatureCollector({
            db,
            self: config.member,
            roster: () => this.roster.current(),
            client: this.client,
            intervalMs: config.sync.pollIntervalMs,
            logger,
            signal: () => this.sync.signal,
          })
        : undefined;
    this.roster = new RosterHolder({
      rosters: context.repos.rosters,
      trustRoot: context.trustRoot(),
      file: config.roster.file,
      url: config.roster.url,
      refreshIntervalMs: config.roster.refreshIntervalMs,
      client: this.client,
      logger,
      now,
      onChange: (roster) => {
        // A key written by `jointban keys rotate` since the start is picked up with the roster that lists it.
        signingKeys.reload();
        // A checkpoint refused for want of a valid key may be signable under this roster.
        if (this.signer.refusal) void this.signer.flush();
        this.sync.setRoster(roster);
        deps.onRosterChange?.(roster);
      },
    });
    const peerRate = { ratePerSecond: config.limits.peerRatePerSecond, burst: config.limits.peerBurst };
    this.routes = federationRoutes({
      db,
      lookupKey: (id) => this.activeMemberKey(id),
      // A nonce must outlive the skew check (which accepts created + maxSkew inclusive); each member
      // gets the share its rate limit can use (replay-cache.ts), so none can fill another's.
      replay: new ReplayCache({ windowSeconds: config.sync.maxSkewSeconds + 1, maxEntriesPerKey: nonceQuota(peerRate, config.sync.maxSkewSeconds) }),
      maxSkewSeconds: config.sync.maxSkewSeconds,
      authorities: () => this.ownAuthorities(),
      acceptWithoutAuthority: transition,
      pageLimit: config.sync.pageSize,
      nowSeconds,
      onNotify: (peer, origin, size) => this.sync.notify(peer, origin, size),
      rosterNote: () => this.roster.currentNote(),
      cosignatures: witnessCosign
        ? (caller, origin, notes) => cosignMemberCheckpoints({ db, roster: () => this.roster.current(), cosign: witnessCosign, misbehaviour: this.misbehaviour, now, logger }, caller, origin, notes)
        : undefined,
      epochs: this.heldEpochs,
      limits: {
        maxConcurrent: config.limits.peerConcurrency,
        perPeer: new RateLimiter(peerRate, () => now().getTime()),
      },
    });
  }

  /** What peers sign `@authority` for: this node's roster endpoint, and `http.publicUrl` (PROTOCOL.md, "Covered components"). */
  private ownAuthorities(): string[] {
    const self = this.roster.current()?.members.find((m) => m.id === this.context.config.member);
    return ownAuthorities([self?.endpoint, this.context.config.http.publicUrl]);
  }

  private activeMemberKey(id: string): Uint8Array[] | undefined {
    const roster = this.roster.current();
    if (!roster || id === this.context.config.member) return undefined;
    const now = this.context.now().toISOString();
    if (memberStatusAt(roster, id, now) !== 'active') return undefined;
    return requestKeys(roster, id, now);
  }

  async start(): Promise<void> {
    await this.roster.load();
    await this.signer.start();
    this.roster.start();
    this.sync.start();
    this.cosignatures?.start();
    // Own-log writes wait for this (bounded): see OwnLogRecovery.checkBehind.
    await this.ownLog.start();
  }

  async stop(): Promise<void> {
    // The recovery's ingests stop with the sync loop's flag, which sync.stop() sets at once.
    const recovery = this.ownLog.stop();
    this.witnessed.stop();
    const cosignatures = this.cosignatures?.stop();
    this.roster.stop();
    await this.sync.stop();
    await recovery;
    await cosignatures;
    await this.signer.stop();
  }

  /** Tells every active peer (but the one it came from) that this node has new data of an origin. */
  private announce(origin: string, size: number, except: string | undefined): void {
    const roster: Roster | undefined = this.roster.current();
    if (!roster) return;
    for (const peer of activePeers(roster, this.context.config.member)) {
      if (peer.id === except) continue;
      this.client.post(peer.endpoint, federationPaths.notify(), { origin, size }).catch((err: unknown) => {
        this.context.logger.debug({ peer: peer.id, err: (err as Error).message }, 'notify failed');
      });
    }
  }

  async status(): Promise<FederationStatus> {
    const { config, repos } = this.context;
    const { log, checkpoints } = repos;
    const roster = this.roster.current();
    const peers = this.sync.status();
    const witness = roster ? witnessOf(roster) : undefined;
    const sizes = new Map((await log.origins()).map((o) => [o.origin, o.size]));
    for (const member of roster?.members ?? []) if (!sizes.has(member.id)) sizes.set(member.id, 0);
    const origins: OriginStatus[] = [];
    for (const [origin, size] of [...sizes].sort(([a], [b]) => a.localeCompare(b))) {
      const cp = await checkpoints.latest(origin);
      const lagByPeer: Record<string, number> = {};
      for (const p of peers) if (p.advertised[origin] !== undefined) lagByPeer[p.member] = Math.max(0, p.advertised[origin]! - size);
      const cosigned = witness && cp ? isCosigned(cp.note, witness) : null;
      origins.push({ origin, size, checkpointSize: cp?.size ?? null, checkpointRecordedAt: cp?.recordedAt ?? null, cosigned, lagByPeer });
    }
    return {
      member: config.member,
      federation: config.federation,
      roster: roster ? { version: roster.version, members: roster.members.length } : null,
      peers,
      origins,
      misbehaviour: await this.misbehaviour.list(100),
      ownLogRecovery: await this.ownLog.status(),
      signingRefused: this.signer.refusal ?? null,
      epochs: epochsStatus(this.heldEpochs, peers),
    };
  }
}

export type { SignedCheckpoint };
