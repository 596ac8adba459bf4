/**
 * The federation health page: the roster's members, every log this node holds with its size,
 * the age of its last checkpoint, how far this node is behind each peer and whether the witness
 * cosigned it (OriginStatus.cosigned; "—" where no witness is known), the state of each peer, the
 * token epochs each holds, and the misbehaviour this node recorded. An association node holds every member's log; a member
 * node its own and its peers', and the page says which.
 */
import type { FederationStatus, OriginStatus } from '../../federation/federation.js';
import type { Roster } from '../../roster/index.js';
import { formatAgo, formatCount, humanise, NONE } from './format.js';
import { EpochsTable } from './epochs-table.js';
import { Card, Empty, Num, Page, When, type NodeInfo, type Viewer } from './layout.js';

export interface HealthPageProps {
  nonce: string;
  node: NodeInfo;
  viewer: Viewer;
  status: FederationStatus;
  roster: Roster | undefined;
  now: Date;
}

export const STANDALONE_NOTICE = 'No roster: this node runs standalone — see README, Setting up a real federation.';
export const NO_LISTINGS_NOTICE = 'No listings yet. Platforms list bans with POST /v1/listings.';

function RosterTable(props: { roster: Roster; self: string }) {
  return (
    <div class="table-wrap">
      <table class="roster">
        <thead>
          <tr>
            <th>Member</th>
            <th>Name</th>
            <th>Role</th>
            <th>Status</th>
            <th>Member since</th>
            <th>Endpoint</th>
          </tr>
        </thead>
        <tbody>
          {props.roster.members.map((m) => (
            <tr>
              <td>
                <span class="mono">{m.id}</span>
                {m.id === props.self && <span class="muted"> (this node)</span>}
              </td>
              <td>{m.name}</td>
              <td>{m.role}</td>
              <td>{m.status === 'active' ? <span class="badge ok">active</span> : <span class="badge bad">suspended {m.suspendedAt ? <When iso={m.suspendedAt} /> : null}</span>}</td>
              <td class="when">
                <When iso={m.since} />
              </td>
              <td class="mono">{m.endpoint}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function LogsTable(props: { origins: OriginStatus[]; self: string; now: Date; hasPeers: boolean }) {
  return (
    <div class="table-wrap">
      <table class="logs">
        <thead>
          <tr>
            <th>Log of</th>
            <th class="num">Entries held</th>
            <th class="num">Signed size</th>
            <th>Last checkpoint</th>
            <th>Behind peers by</th>
            <th>Witness</th>
          </tr>
        </thead>
        <tbody>
          {props.origins.map((o) => {
            const lag = Object.entries(o.lagByPeer).sort(([a], [b]) => a.localeCompare(b));
            return (
              <tr>
                <td>
                  <a href={`/dashboard/members/${encodeURIComponent(o.origin)}`} class="mono">
                    {o.origin}
                  </a>
                  {o.origin === props.self && <span class="muted"> (this node)</span>}
                </td>
                <Num value={o.size} />
                <Num value={o.checkpointSize === null ? NONE : formatCount(o.checkpointSize)} />
                <td class="when">
                  {o.checkpointRecordedAt ? (
                    <>
                      {formatAgo(o.checkpointRecordedAt, props.now)}
                      <br />
                      <span class="muted">
                        <When iso={o.checkpointRecordedAt} />
                      </span>
                    </>
                  ) : (
                    <span class="muted">none yet</span>
                  )}
                </td>
                <td>
                  {lag.length === 0 ? (
                    <span class="muted">{props.hasPeers ? 'no peer has reported it yet' : NONE}</span>
                  ) : lag.every(([, behind]) => behind === 0) ? (
                    <span class="ok">caught up with {lag.map(([peer]) => peer).join(', ')}</span>
                  ) : (
                    <ul class="lag">
                      {lag.map(([peer, behind]) => (
                        <li>
                          <span class="mono">{peer}</span> {behind === 0 ? <span class="ok">caught up</span> : <span class="warn num">{formatCount(behind)} entries</span>}
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
                <td>{o.cosigned === null ? <span class="muted">{NONE}</span> : o.cosigned ? <span class="badge ok">cosigned</span> : <span class="badge warn">not cosigned</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function PeersTable(props: { status: FederationStatus; now: Date }) {
  return (
    <div class="table-wrap">
      <table class="peers">
        <thead>
          <tr>
            <th>Peer</th>
            <th>Endpoint</th>
            <th>Last successful sync</th>
            <th class="num">Failures in a row</th>
            <th>Last error</th>
          </tr>
        </thead>
        <tbody>
          {props.status.peers.map((p) => (
            <tr>
              <td class="mono">{p.member}</td>
              <td class="mono">{p.endpoint}</td>
              <td class="when">
                {p.lastSuccessAt ? (
                  <>
                    {formatAgo(p.lastSuccessAt, props.now)}
                    <br />
                    <span class="muted">
                      <When iso={p.lastSuccessAt} />
                    </span>
                  </>
                ) : (
                  <span class="warn">never</span>
                )}
              </td>
              <td class={p.consecutiveFailures > 0 ? 'num warn' : 'num'}>{formatCount(p.consecutiveFailures)}</td>
              <td>{p.lastError ?? <span class="muted">{NONE}</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function MisbehaviourTable(props: { status: FederationStatus }) {
  return (
    <div class="table-wrap">
      <table class="misbehaviour">
        <thead>
          <tr>
            <th>Detected</th>
            <th>Kind</th>
            <th>Log of</th>
            <th>Served by</th>
            <th>What happened</th>
          </tr>
        </thead>
        <tbody>
          {props.status.misbehaviour.map((m) => (
            <tr>
              <td class="when">
                <When iso={m.detectedAt} />
              </td>
              <td>
                <span class="badge bad">{humanise(m.kind)}</span>
              </td>
              <td class="mono">{m.origin}</td>
              <td class="mono">{m.peer ?? NONE}</td>
              <td>{m.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function HealthPage(props: HealthPageProps) {
  const { status, roster, node, now } = props;
  const associationIds = new Set((roster?.members ?? []).filter((m) => m.role === 'association').map((m) => m.id));
  // The association lists nothing itself: its empty log would only add a row of zeros.
  const origins = status.origins.filter((o) => !(associationIds.has(o.origin) && o.size === 0));
  const entries = origins.reduce((a, o) => a + o.size, 0);
  const reachable = status.peers.filter((p) => p.consecutiveFailures === 0 && p.lastSuccessAt !== null).length;
  return (
    <Page title="Federation health" nonce={props.nonce} node={node} viewer={props.viewer} section="health">
      <h1>Federation health</h1>
      <p class="lede">
        {node.role === 'association'
          ? `Every member's log, as the association node ${node.member} mirrors and witnesses it.`
          : `This node's own log (${node.member}) and the logs it mirrors from its peers. The association's dashboard covers the whole federation.`}{' '}
        As of <When iso={now.toISOString()} />.
      </p>
      {status.ownLogRecovery && (
        <p class="notice own-log-recovery">
          {status.ownLogRecovery.reason === 'peer_ahead' ? 'Behind its own log as a peer holds it' : 'Restored from a backup'} (<When iso={status.ownLogRecovery.since} />
          ): this node is fetching its own log back from its peers and refuses listings and retractions until every active peer has answered. Holds {formatCount(status.ownLogRecovery.size)} entries of
          its own log
          {status.ownLogRecovery.knownSize !== null && status.ownLogRecovery.knownSize > status.ownLogRecovery.size ? `; a peer has seen ${formatCount(status.ownLogRecovery.knownSize)}` : ''}; waiting
          for {status.ownLogRecovery.waitingFor.length > 0 ? <span class="mono">{status.ownLogRecovery.waitingFor.join(', ')}</span> : 'the next round'}. See docs/OPERATIONS.md, Restore and Losing a
          node's disk.
        </p>
      )}
      {status.signingRefused && (
        <p class="notice signing-refused">
          This node signs no checkpoint of its own log (since <When iso={status.signingRefused.since} />
          ): {status.signingRefused.message}. Its listings do not reach its peers until it does. See docs/OPERATIONS.md, Node signing keys.
        </p>
      )}
      <div class="cards">
        <Card label="Roster version" value={status.roster ? status.roster.version : 'none'} />
        <Card label="Members in roster" value={status.roster ? status.roster.members : 0} />
        <Card label="Log entries held" value={entries} />
        <Card label="Peers syncing" value={`${formatCount(reachable)} of ${formatCount(status.peers.length)}`} tone={reachable < status.peers.length ? 'warn' : undefined} />
        <Card label="Token epochs held" value={status.epochs.held.join(', ')} tone={status.epochs.members.some((m) => m.missing.length > 0) ? 'warn' : undefined} />
        <Card label="Misbehaviour recorded" value={status.misbehaviour.length} tone={status.misbehaviour.length > 0 ? 'bad' : 'ok'} />
      </div>

      <h2>Members</h2>
      {roster ? <RosterTable roster={roster} self={node.member} /> : <Empty>{STANDALONE_NOTICE}</Empty>}

      <h2>Logs</h2>
      {entries === 0 && <Empty>{NO_LISTINGS_NOTICE}</Empty>}
      {origins.length > 0 && <LogsTable origins={origins} self={node.member} now={now} hasPeers={status.peers.length > 0} />}

      <h2>Peers</h2>
      {status.peers.length > 0 ? (
        <PeersTable status={status} now={now} />
      ) : (
        <Empty>{roster ? 'No peers: the roster lists no other active member. The association adds members with jointban roster add.' : STANDALONE_NOTICE}</Empty>
      )}

      <h2>Token epochs</h2>
      {status.epochs.members.length > 0 ? <EpochsTable epochs={status.epochs} /> : <Empty>This node holds epochs {status.epochs.held.join(', ')}; it has no peers to compare with.</Empty>}

      <h2>Recorded misbehaviour</h2>
      {status.misbehaviour.length > 0 ? (
        <MisbehaviourTable status={status} />
      ) : (
        <Empty>None recorded. This node refuses and records every bad signature, rewritten history or equivocation it meets while syncing.</Empty>
      )}
    </Page>
  );
}
