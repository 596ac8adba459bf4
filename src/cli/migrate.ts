/** `jointban migrate`: apply pending database migrations (nodes also do this on start). */
import type { Command } from 'commander';
import { migrateToLatest, openDatabase } from '../store/database.js';
import { configWithoutSecrets, printJson } from './options.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .requiredOption('--data-dir <dir>', 'the data directory')
    .action(async (opts: { dataDir: string }) => {
      const config = configWithoutSecrets(opts.dataDir);
      const handle = await openDatabase({ driver: 'sqlite', file: config.databaseFile, migrate: false });
      try {
        printJson(await migrateToLatest(handle.db));
      } finally {
        await handle.close();
      }
    });
}
