/** `jointban migrate`: apply pending database migrations (nodes also do this on start). */
import type { Command } from 'commander';
import { configWithoutSecrets, printJson, withContext } from './options.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .requiredOption('--data-dir <dir>', 'the data directory')
    .action(async (opts: { dataDir: string }) => {
      printJson(await withContext(configWithoutSecrets(opts.dataDir), (context) => context.migrate(), { open: { migrate: false } }));
    });
}
