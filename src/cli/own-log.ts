/**
 * `jointban own-log`: whether a restored node is still fetching its own log back from its peers
 * (federation/own-log-recovery.ts), and, with `--abandon-recovery`, the operator's word that it
 * need not wait any longer (a peer that will never answer). A running node notices within one
 * poll interval; its listings and retractions are accepted from then on.
 */
import type { Command } from 'commander';
import { abandonOwnLogRecovery, readOwnLogRecovery } from '../federation/own-log-recovery.js';
import { LogReader } from '../store/log-repository.js';
import { openDatabase } from '../store/database.js';
import { configFor, printJson } from './options.js';

export function registerOwnLogCommand(program: Command): void {
  program
    .command('own-log')
    .description("show whether this node is still fetching its own log back from its peers after a restore")
    .requiredOption('--data-dir <dir>', 'the data directory')
    .option('--abandon-recovery', 'stop waiting for peers: accept listings and retractions on the log as it is (may fork it, see docs/OPERATIONS.md)')
    .action(async (opts: { dataDir: string; abandonRecovery?: boolean }) => {
      const config = configFor(opts.dataDir);
      const handle = await openDatabase({ driver: 'sqlite', file: config.databaseFile });
      try {
        const mark = await readOwnLogRecovery(handle.db);
        const size = await new LogReader(handle.db).size(config.member);
        const abandoned = opts.abandonRecovery === true && (await abandonOwnLogRecovery(handle.db, config.member));
        printJson({ member: config.member, size, recovering: mark !== undefined && !abandoned, ...(mark ? { since: mark.since, reason: mark.reason } : {}), ...(abandoned ? { abandoned: true } : {}) });
      } finally {
        await handle.close();
      }
    });
}
