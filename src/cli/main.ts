#!/usr/bin/env node
/**
 * The `jointban` command. This file only parses argv and sets the exit code; each command lives in
 * its own file and runs on the composition root (src/context.ts, or a node built on it), and the
 * long-running ones take SIGINT/SIGTERM through signals.ts. Errors the user can act on print one
 * line and exit 1.
 */
import { Command, CommanderError } from 'commander';
import { AppError } from '../errors.js';
import { VERSION } from '../version.js';
import { registerApiKeyCommands } from './apikey.js';
import { registerBackupCommand } from './backup.js';
import { registerCheckCommand } from './check.js';
import { registerDemoCommand } from './demo.js';
import { registerEvidenceCommands } from './evidence.js';
import { registerReceiptCommands } from './receipt.js';
import { registerImportCommand } from './import.js';
import { registerInitCommand } from './init.js';
import { registerKeysCommands } from './keys.js';
import { registerMigrateCommand } from './migrate.js';
import { registerOwnLogCommand } from './own-log.js';
import { registerReportCommand } from './report.js';
import { registerRestoreCommand } from './restore.js';
import { registerRescanCommand } from './rescan.js';
import { registerRosterCommands } from './roster.js';
import { registerStartCommand } from './start.js';
import { registerVerifyCommand } from './verify.js';

export function buildProgram(): Command {
  const program = new Command('jointban')
    .description('A node of the jointban federation: shares hashed identifiers of severely violating accounts between platforms.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerInitCommand(program);
  registerStartCommand(program);
  registerMigrateCommand(program);
  registerApiKeyCommands(program);
  registerCheckCommand(program);
  registerImportCommand(program);
  registerRescanCommand(program);
  registerRosterCommands(program);
  registerKeysCommands(program);
  registerDemoCommand(program);
  registerReceiptCommands(program);
  registerReportCommand(program);
  registerEvidenceCommands(program);
  registerVerifyCommand(program);
  registerBackupCommand(program);
  registerRestoreCommand(program);
  registerOwnLogCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof AppError) {
      process.stderr.write(`jointban: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`jointban: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

const code = await main(process.argv);
if (code !== 0) process.exitCode = code;
