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
import type { AppError } from '../errors.js';
import { DECISIONS, type DecisionKind, type Purpose } from '../policy/index.js';
import type { CheckResult, CheckService } from '../service/checks.js';
import type { LineWriter, RejectsFile } from './output.js';
import { PROGRESS_EVERY_ROWS, type Progress } from './progress.js';
import { oneByOne, refusal, runRowJob } from './row-job.js';
import type { InputFormat, RowSource } from './row-source.js';
import { userFromRow, type RescanUser, type RowRules } from './rows.js';

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
  rejects: Pick<RejectsFile, 'add'>;
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

/** Users are checked one at a time (see above); an invalid identifier refuses its row. */
export async function runRescan(options: RescanOptions): Promise<RescanResult> {
  const { out, outFormat } = options;
  const result = await runRowJob<RescanUser, DecisionKind>(
    {
      outcomes: DECISIONS,
      parse: (row) => userFromRow(row, options.rules),
      async start() {
        if (outFormat === 'csv') await out.write(csvRow(RESCAN_CSV_HEADER));
      },
      handle: oneByOne(async (user) => {
        let result: CheckResult;
        try {
          result = await options.checks.check({ identifiers: user.identifiers, purpose: options.purpose });
        } catch (err) {
          // An invalid identifier: the reason names its index and type, never its value.
          return refusal(err);
        }
        // Outside the refusal: an output that fails fails the run, it does not refuse the row.
        if (result.decision !== 'allow') await out.write(rescanLine(outFormat, user.reference, result));
        return result.decision;
      }),
      progressParts: ({ counts, rejected }) => [
        ['flagged', counts.deny + counts.review],
        ['rejected', rejected],
      ],
    },
    { ...options, batchSize: 1, progressEvery: PROGRESS_EVERY_ROWS },
  );
  const { rows, counts, rejected, interrupted, error } = result;
  return { rows, checked: counts.allow + counts.deny + counts.review, flagged: counts.deny + counts.review, deny: counts.deny, review: counts.review, rejected, interrupted, error };
}
