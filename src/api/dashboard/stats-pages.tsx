/**
 * The statistics pages, drawn from the audit report (report-types.ts) of a window: an overview
 * with one row per member and every anomaly, and a page per member with its daily listings and
 * retractions, category and identifier-type mix, bursts and anomalies. An association node
 * reports on every member; a member node on itself and the peers whose logs it mirrors.
 */
import type { Roster } from '../../roster/index.js';
import type { AuditReport, MemberStats } from '../../audit/report-types.js';
import { DailyChart, daysBetween, MixTable } from './charts.js';
import { formatCount, formatHours, formatRate } from './format.js';
import { Card, Empty, Num, Page, When, type NodeInfo, type Viewer } from './layout.js';
import { AnomalyList, ChecksTable, WindowForm } from './report-parts.js';
import { windowQuery, type DayWindow } from './window-form.js';

interface StatsCommon {
  nonce: string;
  node: NodeInfo;
  viewer: Viewer;
  days: DayWindow;
  roster: Roster | undefined;
}

export const NO_LISTINGS_IN_WINDOW = 'No listings in this window. Choose a wider window, or wait for platforms to list bans with POST /v1/listings.';

export function memberHref(member: string, days: DayWindow): string {
  return `/dashboard/members/${encodeURIComponent(member)}?${windowQuery(days)}`;
}

function scopeLine(node: NodeInfo): string {
  return node.role === 'association'
    ? 'Every member of the federation, from the logs this association node mirrors.'
    : `This node (${node.member}) and its peers, from the logs it mirrors. The association's dashboard covers the whole federation.`;
}

function WindowLine(props: { report: AuditReport }) {
  return (
    <p class="lede">
      Window <When iso={props.report.from} /> to <When iso={props.report.to} /> (end excluded); report made <When iso={props.report.generatedAt} />.
    </p>
  );
}

export function MembersPage(props: StatsCommon & { report?: AuditReport | undefined; error?: string | undefined }) {
  const { report, days, node } = props;
  const names = new Map((props.roster?.members ?? []).map((m) => [m.id, m.name]));
  const quiet = report ? report.members.every((m) => m.listings === 0 && m.retractions === 0) : false;
  const own = report?.members.find((m) => m.member === report.node);
  return (
    <Page title="Member statistics" nonce={props.nonce} node={node} viewer={props.viewer} section="members">
      <h1>Member statistics</h1>
      <p class="lede">{scopeLine(node)}</p>
      <WindowForm action="/dashboard/members" days={days} error={props.error} csvHref={report ? `/dashboard/members.csv?${windowQuery(days)}` : undefined} />
      {report && (
        <>
          <WindowLine report={report} />
          {quiet && <Empty>{NO_LISTINGS_IN_WINDOW}</Empty>}
          <div class="table-wrap">
            <table class="members">
              <thead>
                <tr>
                  <th class="member">Member</th>
                  <th class="num">Listings</th>
                  <th class="num">Retractions</th>
                  <th class="num">Retracted share</th>
                  <th class="num">Median to retraction</th>
                  <th class="num">Corroborated</th>
                  <th class="num">Without evidence</th>
                  <th class="num">Bursts</th>
                </tr>
              </thead>
              <tbody>
                {report.members.map((m) => (
                  <tr>
                    <td>
                      <a class="mono" href={memberHref(m.member, days)}>
                        {m.member}
                      </a>
                      {names.has(m.member) && <div class="muted small">{names.get(m.member)}</div>}
                    </td>
                    <Num value={m.listings} />
                    <Num value={m.retractions} />
                    <Num value={formatRate(m.retractionRate)} />
                    <Num value={formatHours(m.medianHoursToRetraction)} />
                    <Num value={m.corroborated} />
                    <Num value={m.withoutEvidenceDigest} />
                    <Num value={m.bursts.length} />
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Anomalies</h2>
          <AnomalyList anomalies={report.anomalies} showMember link={(member) => memberHref(member, days)} />
          {own?.checks && (
            <>
              <h2>Checks</h2>
              <ChecksTable member={report.node} checks={own.checks} />
            </>
          )}
        </>
      )}
    </Page>
  );
}

function BurstTable(props: { stats: MemberStats }) {
  if (props.stats.bursts.length === 0) return <Empty>No bursts: no day with far more listings than this member's usual pace.</Empty>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Day (UTC)</th>
            <th class="num">Listings</th>
            <th class="num">Usual per day</th>
          </tr>
        </thead>
        <tbody>
          {props.stats.bursts.map((b) => (
            <tr>
              <td class="when">{b.day}</td>
              <Num value={b.listings} />
              <Num value={b.baselinePerDay.toFixed(1)} />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function MemberPage(props: StatsCommon & { report: AuditReport; stats: MemberStats }) {
  const { report, stats, days, node } = props;
  const rosterEntry = props.roster?.members.find((m) => m.id === stats.member);
  const anomalies = report.anomalies.filter((a) => a.member === stats.member);
  const href = `/dashboard/members/${encodeURIComponent(stats.member)}`;
  return (
    <Page title={`Statistics of ${stats.member}`} nonce={props.nonce} node={node} viewer={props.viewer} section="members">
      <p class="muted">
        <a href={`/dashboard/members?${windowQuery(days)}`}>All members</a> ›
      </p>
      <h1>
        Statistics of <span class="mono">{stats.member}</span>
        {rosterEntry && <span class="muted"> · {rosterEntry.name}</span>}
        {stats.member === node.member && <span class="muted"> (this node)</span>}
      </h1>
      <WindowForm action={href} days={days} />
      <WindowLine report={report} />
      <div class="cards">
        <Card label="Listings" value={stats.listings} />
        <Card label="Retractions" value={stats.retractions} />
        <Card label="Retracted share of listings" value={formatRate(stats.retractionRate)} />
        <Card label="Median time to retraction" value={formatHours(stats.medianHoursToRetraction)} />
        <Card label="Corroborated by another member" value={stats.corroborated} />
        <Card label="Without evidence digest" value={stats.withoutEvidenceDigest} tone={stats.withoutEvidenceDigest > 0 ? 'warn' : undefined} />
      </div>
      <h2>Listings and retractions per day</h2>
      <DailyChart member={stats.member} days={daysBetween(days.from, days.to)} daily={stats.daily} />
      <div class="grid2">
        <section>
          <h2>Category mix</h2>
          {stats.listings === 0 ? (
            <Empty>{NO_LISTINGS_IN_WINDOW}</Empty>
          ) : (
            <MixTable caption={`${formatCount(stats.listings)} listings by category`} keyLabel="Category" counts={stats.listingsByCategory} />
          )}
        </section>
        <section>
          <h2>Identifier types</h2>
          {stats.listings === 0 ? (
            <Empty>Nothing to show until the member lists bans in this window.</Empty>
          ) : (
            <MixTable caption="A listing with a phone and an email counts once for each" keyLabel="Identifier type" counts={stats.listingsByIdentifierType} />
          )}
        </section>
      </div>
      <h2>Bursts</h2>
      <BurstTable stats={stats} />
      <h2>Anomalies</h2>
      <AnomalyList anomalies={anomalies} showMember={false} />
      {stats.checks && (
        <>
          <h2>Checks</h2>
          <ChecksTable member={stats.member} checks={stats.checks} />
        </>
      )}
    </Page>
  );
}
