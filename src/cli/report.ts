/**
 * `jointban report --data-dir DIR --from ISO --to ISO [--format json|csv] [--out FILE]`: the audit
 * report of a window from a node's data directory, as a platform hands it to a regulator (its
 * yearly report on its blacklist work) or the association publishes it. The same numbers as
 * `GET /v1/audit/report`; a running node's checks of its last few seconds are not yet flushed and
 * appear in the next report. Definitions: docs/AUDIT.md.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { reportToCsv } from '../audit/report-csv.js';
import { parseAuditWindow } from '../audit/window.js';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { configWithoutSecrets, withContext } from './options.js';

/** The platforms of the roster this node accepted (stored, and verified again here); none without a trust root. */
async function rosterMembers(context: AppContext): Promise<string[]> {
  const held = await context.repos.rosters.latestVerified(context.trustRoot);
  if (held.status === 'none' || (held.status === 'unverified' && held.error === undefined)) return [];
  if (held.status === 'unverified') throw new AppError('invalid_input', `the stored roster does not verify against roster.trustRoot: ${held.error}`);
  return held.roster.members.filter((m) => m.role === 'member').map((m) => m.id);
}

interface ReportOptions {
  dataDir: string;
  from: string;
  to: string;
  format: string;
  out?: string;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('print the audit report of a time window (counts per member, anomalies; never identifiers)')
    .requiredOption('--data-dir <dir>', 'the data directory')
    .requiredOption('--from <time>', 'start of the window, inclusive: ISO-8601 date-time or YYYY-MM-DD (midnight UTC)')
    .requiredOption('--to <time>', 'end of the window, exclusive; at most 366 days after --from')
    .option('--format <format>', 'json or csv', 'json')
    .option('--out <file>', 'write the report to this file instead of stdout')
    .action(async (opts: ReportOptions) => {
      if (opts.format !== 'json' && opts.format !== 'csv') throw new AppError('invalid_input', '--format: must be json or csv');
      const window = parseAuditWindow(opts.from, opts.to, { from: '--from', to: '--to' });
      const config = configWithoutSecrets(opts.dataDir);
      const text = await withContext(config, async (context) => {
        const members = await rosterMembers(context);
        const report = await context.audit({ members: () => members }).report(window);
        return opts.format === 'csv' ? reportToCsv(report) : `${JSON.stringify(report, null, 2)}\n`;
      });
      if (opts.out === undefined) {
        process.stdout.write(text);
        return;
      }
      try {
        writeFileSync(opts.out, text);
      } catch (err) {
        throw new AppError('invalid_input', `--out: cannot write ${opts.out} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    });
}
