/**
 * `jointban report --data-dir DIR --from ISO --to ISO [--format json|csv] [--out FILE]`: the audit
 * report of a window from a node's data directory, as a platform hands it to a regulator (its
 * yearly report on its blacklist work) or the association publishes it. The same numbers as
 * `GET /v1/audit/report`; a running node's checks of its last few seconds are not yet flushed and
 * appear in the next report. Definitions: docs/AUDIT.md.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import { AuditService } from '../audit/audit-service.js';
import { reportToCsv } from '../audit/report-csv.js';
import { parseAuditWindow } from '../audit/window.js';
import type { NodeConfig } from '../config/load.js';
import { AppError } from '../errors.js';
import { parseTrustRootKey } from '../federation/federation.js';
import { openRoster } from '../roster/index.js';
import { openDatabase } from '../store/database.js';
import type { Database } from '../store/tables.js';
import { configWithoutSecrets } from './options.js';

/** The platforms of the roster this node accepted (stored, and verified again here). */
async function rosterMembers(db: Kysely<Database>, config: NodeConfig): Promise<string[]> {
  const trustRoot = parseTrustRootKey(config.roster.trustRoot, config.federation);
  if (!trustRoot) return [];
  const row = await db.selectFrom('rosters').select('note').orderBy('version', 'desc').limit(1).executeTakeFirst();
  if (!row) return [];
  const opened = openRoster(row.note, trustRoot);
  if (!opened.ok) throw new AppError('invalid_input', `the stored roster does not verify against roster.trustRoot: ${opened.error}`);
  return opened.roster.members.filter((m) => m.role === 'member').map((m) => m.id);
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
      const handle = await openDatabase({ driver: 'sqlite', file: config.databaseFile });
      let text: string;
      try {
        const members = await rosterMembers(handle.db, config);
        const audit = new AuditService({
          db: handle.db,
          federation: config.federation,
          member: config.member,
          categories: config.categories,
          now: () => new Date(),
          members: () => members,
        });
        const report = await audit.report(window);
        text = opts.format === 'csv' ? reportToCsv(report) : `${JSON.stringify(report, null, 2)}\n`;
      } finally {
        await handle.close();
      }
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
