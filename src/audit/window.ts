/**
 * The time window of an audit report, `[from, to)`, parsed from user input (the API's query and
 * the CLI's options) the same way: an ISO-8601 date-time with `Z` or an offset, or a plain date
 * `YYYY-MM-DD` meaning midnight UTC. The window is at most MAX_WINDOW_DAYS long, which holds any
 * calendar year in any time zone, so a yearly report for a regulator always fits.
 */
import { AppError } from '../errors.js';

export const MAX_WINDOW_DAYS = 366;
export const DAY_MS = 86_400_000;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):(\d{2}))$/;

export interface AuditWindow {
  /** Inclusive, `toISOString()` form. */
  from: string;
  /** Exclusive, `toISOString()` form. */
  to: string;
}

/** A real calendar date: Date.UTC would roll 2025-02-30 over to March 2 without a word. */
function realDate(y: number, m: number, d: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function parseInstant(value: string | undefined, name: string): Date {
  if (value === undefined || value === '') throw new AppError('invalid_input', `${name}: required (an ISO-8601 date-time or a date YYYY-MM-DD)`);
  const bad = () => new AppError('invalid_input', `${name}: must be an ISO-8601 date-time with Z or an offset, or a date YYYY-MM-DD`);
  const date = DATE.exec(value);
  if (date) {
    const [y, m, d] = [Number(date[1]), Number(date[2]), Number(date[3])];
    if (!realDate(y, m, d)) throw new AppError('invalid_input', `${name}: not a real date`);
    return new Date(Date.UTC(y, m - 1, d));
  }
  const dt = DATE_TIME.exec(value);
  if (!dt) throw bad();
  const [y, m, d, hh, mm, ss] = [1, 2, 3, 4, 5, 6].map((i) => Number(dt[i] ?? 0)) as [number, number, number, number, number, number];
  const ms = Number((dt[7] ?? '0').padEnd(3, '0').slice(0, 3));
  const offsetMinutes = dt[8] === 'Z' ? 0 : (dt[9] === '-' ? -1 : 1) * (Number(dt[10]) * 60 + Number(dt[11]));
  if (!realDate(y, m, d) || hh > 23 || mm > 59 || ss > 59 || Number(dt[10] ?? 0) > 23 || Number(dt[11] ?? 0) > 59) {
    throw new AppError('invalid_input', `${name}: not a real date-time`);
  }
  return new Date(Date.UTC(y, m - 1, d, hh, mm, ss, ms) - offsetMinutes * 60_000);
}

/** The names the caller's user knows the two bounds by, for error messages (`--from` on the CLI). */
export interface WindowFieldNames {
  from: string;
  to: string;
}

export function parseAuditWindow(from: string | undefined, to: string | undefined, names: WindowFieldNames = { from: 'from', to: 'to' }): AuditWindow {
  const start = parseInstant(from, names.from);
  const end = parseInstant(to, names.to);
  if (end.getTime() <= start.getTime()) throw new AppError('invalid_input', `${names.to}: must be after ${names.from}`);
  if (end.getTime() - start.getTime() > MAX_WINDOW_DAYS * DAY_MS) {
    throw new AppError('invalid_input', `${names.to}: the window from ${names.from} to ${names.to} is longer than ${MAX_WINDOW_DAYS} days`);
  }
  return { from: start.toISOString(), to: end.toISOString() };
}

/** The UTC day (`YYYY-MM-DD`) of an instant. */
export function dayOf(iso: string): string {
  return iso.slice(0, 10);
}

/** The day `n` days after `day` (n may be negative). */
export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/** The first and last UTC day the window overlaps (its end is exclusive). */
export function windowDays(window: AuditWindow): { first: string; last: string } {
  return { first: dayOf(window.from), last: dayOf(new Date(Date.parse(window.to) - 1).toISOString()) };
}
