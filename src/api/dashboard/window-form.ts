/**
 * The statistics pages' window selector: two UTC days from a GET form, both inclusive because
 * that is how people read "from 1 March to 31 March". The audit report's window is half-open, so
 * the last day is turned into the midnight after it; parsing and the length limit are the report's
 * own (window.ts), so the dashboard and the API accept exactly the same windows.
 */
import { AppError } from '../../errors.js';
import { addDays, dayOf, parseAuditWindow, type AuditWindow } from '../../audit/window.js';

export const DEFAULT_WINDOW_DAYS = 30;

export interface DayWindow {
  /** First day, YYYY-MM-DD (UTC). */
  from: string;
  /** Last day, inclusive, YYYY-MM-DD (UTC). */
  to: string;
}

export type WindowChoice = { ok: true; days: DayWindow; window: AuditWindow } | { ok: false; days: DayWindow; error: string };

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar day: Date would roll 2025-02-30 over into March without a word. */
function isRealDay(value: string): boolean {
  if (!DAY.test(value)) return false;
  const t = Date.parse(`${value}T00:00:00.000Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === value;
}

/** The last DEFAULT_WINDOW_DAYS days, today included. */
export function defaultDays(now: Date): DayWindow {
  const to = dayOf(now.toISOString());
  return { from: addDays(to, -(DEFAULT_WINDOW_DAYS - 1)), to };
}

/** The window the form asks for; a missing or empty field takes the default. */
export function chooseWindow(query: { from?: string | undefined; to?: string | undefined }, now: Date): WindowChoice {
  const fallback = defaultDays(now);
  const days: DayWindow = { from: query.from || fallback.from, to: query.to || fallback.to };
  for (const [name, value] of [
    ['From', days.from],
    ['To', days.to],
  ] as const) {
    if (!isRealDay(value)) return { ok: false, days: fallback, error: `${name}: "${value.slice(0, 32)}" is not a date; enter one as YYYY-MM-DD.` };
  }
  if (days.to < days.from) return { ok: false, days, error: 'To: the last day must not be before the first.' };
  try {
    return { ok: true, days, window: parseAuditWindow(days.from, addDays(days.to, 1), { from: 'From', to: 'To' }) };
  } catch (err) {
    if (err instanceof AppError) return { ok: false, days, error: err.message };
    throw err;
  }
}

/** The query string that keeps a window across links. */
export function windowQuery(days: DayWindow): string {
  return `from=${encodeURIComponent(days.from)}&to=${encodeURIComponent(days.to)}`;
}
