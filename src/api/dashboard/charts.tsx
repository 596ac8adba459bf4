/**
 * Charts as inline SVG, drawn on the server: nothing to load, nothing to run, and a copy of the
 * numbers beside each one for readers who cannot see it. The daily chart draws listings above the
 * axis and retractions below it on one scale, so a day with as many retractions as listings looks
 * symmetrical and a retraction wave stands out. The category mix is a table with a bar per row,
 * so its labels stay readable at any width.
 */
import type { DailyCount } from '../../audit/report-types.js';
import { formatCount, humanise } from './format.js';
import { Empty } from './layout.js';

const W = 1000;
const H = 260;
const M = { top: 14, right: 12, bottom: 30, left: 56 };

/** Every UTC day from `first` to `last` inclusive, so quiet days show as gaps rather than vanish. */
export function daysBetween(first: string, last: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${first}T00:00:00Z`), end = Date.parse(`${last}T00:00:00Z`); t <= end; t += 86_400_000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

function plural(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

export function DailyChart(props: { member: string; days: string[]; daily: DailyCount[] }) {
  const byDay = new Map(props.daily.map((d) => [d.day, d]));
  const rows = props.days.map((day) => byDay.get(day) ?? { day, listings: 0, retractions: 0 });
  const maxL = Math.max(0, ...rows.map((r) => r.listings));
  const maxR = Math.max(0, ...rows.map((r) => r.retractions));
  if (maxL + maxR === 0) {
    return (
      <Empty>
        <strong>No listings or retractions by {props.member} in this window.</strong> Choose a wider window above; platforms list bans with <code>POST /v1/listings</code>.
      </Empty>
    );
  }
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  // One scale for both directions: the axis sits where the two maxima split the height.
  const unit = plotH / (maxL + maxR);
  const zeroY = M.top + maxL * unit;
  const step = plotW / rows.length;
  const barW = Math.max(1, Math.min(24, step * 0.72));
  const x = (i: number) => M.left + i * step + (step - barW) / 2;
  const ticks = rows.length <= 2 ? rows.map((_, i) => i) : [0, Math.floor((rows.length - 1) / 2), rows.length - 1];
  const totalL = rows.reduce((a, r) => a + r.listings, 0);
  const totalR = rows.reduce((a, r) => a + r.retractions, 0);
  const label = `Listings and retractions per day by ${props.member}, ${rows[0]!.day} to ${rows[rows.length - 1]!.day}: ${plural(totalL, 'listing', 'listings')}, ${plural(totalR, 'retraction', 'retractions')}.`;
  return (
    <figure class="chart-box">
      <div class="legend" aria-hidden="true">
        <span>
          <span class="swatch listing"></span>Listings (up)
        </span>
        <span>
          <span class="swatch retraction"></span>Retractions (down)
        </span>
      </div>
      <svg class="chart daily" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} font-size="13" font-family="system-ui, sans-serif">
        <title>{label}</title>
        <line x1={M.left} x2={W - M.right} y1={zeroY} y2={zeroY} stroke="#8c959f" stroke-width="1" />
        {maxL > 0 && (
          <text x={M.left - 8} y={M.top + 4} text-anchor="end" dominant-baseline="hanging" fill="#0b5cad">
            {formatCount(maxL)}
          </text>
        )}
        <text x={M.left - 8} y={zeroY} text-anchor="end" dominant-baseline="middle" fill="#57606a">
          0
        </text>
        {maxR > 0 && (
          <text x={M.left - 8} y={M.top + plotH} text-anchor="end" fill="#c4432b">
            {formatCount(maxR)}
          </text>
        )}
        {rows.map((r, i) => (
          <g>
            {r.listings > 0 && (
              <rect class="bar-listings" x={x(i)} y={zeroY - r.listings * unit} width={barW} height={r.listings * unit} fill="#0b5cad">
                <title>{`${r.day}: ${plural(r.listings, 'listing', 'listings')}`}</title>
              </rect>
            )}
            {r.retractions > 0 && (
              <rect class="bar-retractions" x={x(i)} y={zeroY} width={barW} height={r.retractions * unit} fill="#c4432b">
                <title>{`${r.day}: ${plural(r.retractions, 'retraction', 'retractions')}`}</title>
              </rect>
            )}
          </g>
        ))}
        {ticks.map((i, k) => (
          <text x={M.left + i * step + step / 2} y={H - 8} text-anchor={ticks.length > 1 && k === 0 ? 'start' : k === ticks.length - 1 && ticks.length > 1 ? 'end' : 'middle'} fill="#57606a">
            {rows[i]!.day}
          </text>
        ))}
      </svg>
      <details>
        <summary>Daily numbers</summary>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Day (UTC)</th>
                <th class="num">Listings</th>
                <th class="num">Retractions</th>
              </tr>
            </thead>
            <tbody>
              {rows
                .filter((r) => r.listings + r.retractions > 0)
                .map((r) => (
                  <tr>
                    <td class="when">{r.day}</td>
                    <td class="num">{formatCount(r.listings)}</td>
                    <td class="num">{formatCount(r.retractions)}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}

/** A count per key (categories, identifier types) as rows with a proportional bar, largest first. */
export function MixTable(props: { caption: string; keyLabel: string; counts: Record<string, number> }) {
  const rows = Object.entries(props.counts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  const total = rows.reduce((a, [, n]) => a + n, 0);
  const max = Math.max(0, ...rows.map(([, n]) => n));
  return (
    <div class="table-wrap">
      <table class="mix">
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            <th>{props.keyLabel}</th>
            <th class="num">Listings</th>
            <th class="num">Share</th>
            {/* biome-ignore lint/a11y/noAriaHiddenOnFocusable: a th is not focusable; the bar column repeats the share as a picture, so it is hidden from screen readers */}
            <th class="bar-col" aria-hidden="true"></th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([key, n]) => (
            <tr>
              <td>{humanise(key)}</td>
              <td class="num">{formatCount(n)}</td>
              <td class="num">{total === 0 ? '—' : `${((n / total) * 100).toFixed(1)} %`}</td>
              <td class="bar-col" aria-hidden="true">
                <svg class="mixbar" viewBox="0 0 100 10" preserveAspectRatio="none" width="100%" height="10" aria-hidden="true">
                  <rect x="0" y="0" width="100" height="10" fill="#eaeef2" />
                  {n > 0 && <rect x="0" y="0" width={(n / max) * 100} height="10" fill="#0b5cad" />}
                </svg>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
