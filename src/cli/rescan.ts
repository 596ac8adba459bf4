/**
 * `jointban rescan`: checks the platform's own active users against the listings this node holds
 * and writes out those whose decision is not `allow` (docs/IMPORT.md). The output carries the
 * platform's own user reference, never an identifier; totals go to stderr as one JSON line, so
 * stdout can carry the output itself.
 */
import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { PURPOSES, type Purpose } from '../policy/index.js';
import { openFileWriter, stdoutWriter, type LineWriter } from '../jobs/output.js';
import { USER_COLUMNS } from '../jobs/rows.js';
import { formatOf, type InputFormat } from '../jobs/row-source.js';
import { runRescan, type RescanResult } from '../jobs/rescan.js';
import { addBulkOptions, maxRssMb, openBulkRun, parseFormat, stopReason, type BulkOptions } from './import.js';

interface RescanOptions extends BulkOptions {
  purpose: string;
  out?: string;
  outFormat?: InputFormat;
}

export function registerRescanCommand(program: Command): void {
  addBulkOptions(
    program
      .command('rescan')
      .description("check the platform's own users against the listings and write out those not allowed (docs/IMPORT.md)")
      .argument('<file>', 'the users, or - for standard input'),
  )
    .option('--purpose <purpose>', 'registration or monetization', 'registration')
    .option('--out <file>', 'write the flagged users here instead of stdout')
    .option('--out-format <format>', 'csv or jsonl (default: from --out, else the input format)', parseFormat)
    .action(async (file: string, opts: RescanOptions) => {
      if (!(PURPOSES as readonly string[]).includes(opts.purpose)) throw new AppError('invalid_input', `--purpose: must be one of ${PURPOSES.join(', ')}`);
      const outFormat = opts.outFormat ?? (opts.out !== undefined && /\.(csv|jsonl|ndjson)$/i.test(opts.out) ? formatOf(opts.out, undefined) : formatOf(file, opts.format));
      const run = await openBulkRun('rescan', file, opts, USER_COLUMNS);
      let result: RescanResult;
      try {
        let out: LineWriter | undefined;
        try {
          out = opts.out !== undefined ? await openFileWriter(opts.out) : stdoutWriter();
          result = await runRescan({
            source: run.source,
            checks: run.node.checks,
            purpose: opts.purpose as Purpose,
            rules: run.rules,
            rejects: run.rejects,
            out,
            outFormat,
            progress: run.progress,
            signal: run.signal,
          });
        } finally {
          await out?.close();
        }
      } finally {
        await run.close();
      }
      const { rows, checked, flagged, deny, review, rejected } = result;
      const totals = { rows, checked, flagged, deny, review, rejected, seconds: run.seconds(), out: opts.out ?? null, rejectsFile: run.rejects.path, maxRssMb: maxRssMb() };
      process.stderr.write(`${JSON.stringify(totals)}\n`);
      const stop = stopReason(result);
      if (stop) throw stop;
    });
}
