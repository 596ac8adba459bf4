/**
 * Rescan of the platform's own users against the listings this node holds (docs/IMPORT.md): each
 * user's identifiers go through the same check as POST /v1/check, and only the users whose
 * decision is not `allow` are written out, with the decision, the penalties and what matched.
 *
 * Nothing raw is written: the output carries the platform's own user reference and listing
 * metadata, the rejects file a row number and a reason. Checks are counted for the audit report
 * like any other (they are checks this node served).
 *
 * One check per user; batching many users into one token lookup is a later optimisation.
 */
import { csvRow } from '../common/csv.js';
import { AppError } from '../errors.js';
import type { Purpose } from '../policy/index.js';
import type { CheckResult, CheckService } from './checks.js';
import type { LineWriter, RejectsFile } from './import-output.js';
import { PROGRESS_EVERY_ROWS, type Progress, type ProgressSnapshot } from './import-progress.js';
import { userFromRow, type RowRules } from './import-rows.js';
import { eachRow, type InputFormat, type RowSource, type SourceRow } from './import-source.js';

export interface RescanTotals {
  rows: number;
  /** Users checked (rows that were not rejected). */
  checked: number;
  /** Users written out: decision `deny` or `review`. */
  flagged: number;
  deny: number;
  review: number;
  rejected: number;
}

export interface RescanResult extends RescanTotals {
  interrupted: boolean;
  error: AppError | undefined;
}

export interface RescanOptions {
  source: RowSource;
  checks: Pick<CheckService, 'check'>;
  purpose: Purpose;
  rules: RowRules;
  rejects: RejectsFile;
  out: LineWriter;
  outFormat: InputFormat;
  progress?: Progress | undefined;
  signal?: AbortSignal | undefined;
}

export const RESCAN_CSV_HEADER = ['reference', 'decision', 'penalties', 'listing_ids'] as const;

/** One output line for a flagged user. */
export function rescanLine(format: InputFormat, reference: string, result: CheckResult): string {
  if (format === 'jsonl') {
    const matches = result.matches.map((m) => ({ listingId: m.listingId, origin: m.origin, category: m.category, identifierType: m.identifierType, banUntil: m.banUntil }));
    return `${JSON.stringify({ reference, decision: result.decision, penalties: result.penalties, matches })}\n`;
  }
  // `action` or `action@until`, several joined by `|` (none contains either character).
  const penalties = result.penalties.map((p) => (p.until === null ? p.action : `${p.action}@${p.until}`)).join('|');
  const ids = [...new Set(result.matches.map((m) => m.listingId))].join('|');
  return csvRow([reference, result.decision, penalties, ids]);
}

export async function runRescan(options: RescanOptions): Promise<RescanResult> {
  const { source, rejects, out, progress } = options;
  const totals: RescanTotals = { rows: 0, checked: 0, flagged: 0, deny: 0, review: 0, rejected: 0 };
  const snapshot = (): ProgressSnapshot => ({
    rows: totals.rows,
    bytes: source.bytesRead(),
    parts: [
      ['flagged', totals.flagged],
      ['rejected', totals.rejected],
    ],
  });
  const reject = async (row: number, reason: string) => {
    totals.rejected++;
    await rejects.add(row, reason);
  };

  const handle = async (item: SourceRow) => {
    totals.rows++;
    if (totals.rows % PROGRESS_EVERY_ROWS === 0) progress?.update(snapshot());
    const parsed = item.ok ? userFromRow(item, options.rules) : item;
    if (!parsed.ok) return reject(item.row, parsed.reason);
    let result: CheckResult;
    try {
      result = await options.checks.check({ identifiers: parsed.value.identifiers, purpose: options.purpose });
    } catch (err) {
      // An invalid identifier: the reason names its index and type, never its value.
      if (!(err instanceof AppError)) throw err;
      return reject(item.row, err.message);
    }
    totals.checked++;
    if (result.decision === 'allow') return;
    totals.flagged++;
    totals[result.decision]++;
    await out.write(rescanLine(options.outFormat, parsed.value.reference, result));
  };

  let interrupted = false;
  let error: AppError | undefined;
  try {
    if (options.outFormat === 'csv') await out.write(csvRow(RESCAN_CSV_HEADER));
    error = await eachRow(source, handle, () => {
      interrupted = options.signal?.aborted === true;
      return interrupted;
    });
  } finally {
    progress?.finish(snapshot());
  }
  return { ...totals, interrupted, error };
}
