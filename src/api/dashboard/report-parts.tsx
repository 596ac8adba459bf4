/**
 * Pieces of the statistics pages shared by the overview and a member's page: the window
 * selector (a plain GET form, so a window is a link that can be bookmarked and sent), the anomaly
 * list and the checks this node served. The window's days are text fields in YYYY-MM-DD rather
 * than date pickers, which a browser would show in its own locale's format: one date format
 * everywhere.
 */
import type { Anomaly, CheckCounts } from '../../audit/report-types.js';
import { formatRate, humanise } from './format.js';
import { Empty, Num } from './layout.js';
import type { DayWindow } from './window-form.js';

export function WindowForm(props: { action: string; days: DayWindow; error?: string | undefined; csvHref?: string | undefined }) {
  return (
    <>
      <form class="inline" method="get" action={props.action} aria-label="Time window">
        <label>
          First day (UTC)
          <input type="text" name="from" value={props.days.from} placeholder="YYYY-MM-DD" pattern="\d{4}-\d{2}-\d{2}" inputmode="numeric" size={10} maxlength={10} required />
        </label>
        <label>
          Last day (UTC, included)
          <input type="text" name="to" value={props.days.to} placeholder="YYYY-MM-DD" pattern="\d{4}-\d{2}-\d{2}" inputmode="numeric" size={10} maxlength={10} required />
        </label>
        <button class="primary" type="submit">
          Show
        </button>
        {props.csvHref && (
          <a class="button" href={props.csvHref}>
            Download CSV
          </a>
        )}
      </form>
      {props.error && (
        <p class="error" role="alert">
          {props.error}
        </p>
      )}
    </>
  );
}

const ANOMALY_LABELS: Record<Anomaly['kind'], string> = {
  high_retraction_rate: 'high retraction rate',
  burst: 'burst of listings',
  missing_evidence: 'missing evidence digests',
  misbehaviour: 'misbehaviour',
  check_volume_jump: 'jump in check volume',
};

export function AnomalyList(props: { anomalies: Anomaly[]; showMember: boolean; link?: ((member: string) => string) | undefined }) {
  if (props.anomalies.length === 0) {
    return <Empty>No anomalies in this window: no unusual retraction rate, burst of listings, missing evidence or misbehaviour.</Empty>;
  }
  return (
    <div class="table-wrap">
      <table class="anomalies">
        <thead>
          <tr>
            {props.showMember && <th>Member</th>}
            <th>Kind</th>
            <th>Detail</th>
          </tr>
        </thead>
        <tbody>
          {props.anomalies.map((a) => (
            <tr>
              {props.showMember && (
                <td>
                  {props.link ? (
                    <a class="mono" href={props.link(a.member)}>
                      {a.member}
                    </a>
                  ) : (
                    <span class="mono">{a.member}</span>
                  )}
                </td>
              )}
              <td>
                <span class={a.kind === 'misbehaviour' ? 'badge bad' : 'badge warn'}>{ANOMALY_LABELS[a.kind] ?? humanise(a.kind)}</span>
              </td>
              <td>{a.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ChecksTable(props: { member: string; checks: CheckCounts[] }) {
  return (
    <div class="table-wrap">
      <table>
        <caption>Identifiers tested through this node ({props.member}) in the window: checks, and watch enrolments</caption>
        <thead>
          <tr>
            <th>Purpose</th>
            <th class="num">Requests</th>
            <th class="num">Identifiers tested</th>
            <th class="num">Review or deny (watch: match events)</th>
            <th class="num">Hit rate</th>
          </tr>
        </thead>
        <tbody>
          {props.checks.map((c) => (
            <tr>
              <td>{c.purpose}</td>
              <Num value={c.served} />
              <Num value={c.identifiers} />
              <Num value={c.hits} />
              <Num value={formatRate(c.hitRate)} />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
