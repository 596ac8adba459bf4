/**
 * How the dashboard writes times and numbers, in one place so every page agrees: instants as
 * `2026-11-22 14:05 UTC` (a node serves members in several time zones, so UTC, said out loud),
 * days as `YYYY-MM-DD`, counts with thousands separators, shares as percentages, and ages as the
 * largest two units ("3 h 20 min") because "how stale is this checkpoint" is read at a glance.
 */

const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const DECIMAL = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });

/** The sign for "no value": a rate of nothing, a checkpoint not yet seen. */
export const NONE = '—';

/** `2026-11-22 14:05 UTC`; NONE for a missing or unparseable time. */
export function formatInstant(iso: string | null | undefined): string {
  if (!iso) return NONE;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return NONE;
  const s = new Date(t).toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 16)} UTC`;
}

export function formatCount(n: number): string {
  return COUNT.format(n);
}

/** A share in [0, 1] as `12.5 %`; NONE when there was nothing to divide by. */
export function formatRate(rate: number | null): string {
  return rate === null ? NONE : `${DECIMAL.format(rate * 100)} %`;
}

export function formatHours(hours: number | null): string {
  return hours === null ? NONE : `${DECIMAL.format(hours)} h`;
}

/** How long ago `iso` was, relative to `now`: `45 s`, `12 min`, `3 h 20 min`, `2 d 4 h`. */
export function formatAge(iso: string | null | undefined, now: Date): string {
  if (!iso) return NONE;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return NONE;
  // A peer's clock may run slightly ahead of ours: a time "in the future" reads as just now.
  const seconds = Math.max(0, Math.floor((now.getTime() - t) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}

/** `just now` for the last few seconds, else `12 min ago`. */
export function formatAgo(iso: string | null | undefined, now: Date): string {
  if (!iso) return NONE;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return NONE;
  return now.getTime() - t < 5_000 ? 'just now' : `${formatAge(iso, now)} ago`;
}

/** Identifier types and categories are snake_case codes; people read them with spaces. */
export function humanise(code: string): string {
  return code.replace(/_/g, ' ');
}
