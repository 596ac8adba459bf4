/**
 * `jointban own-log`: whether a restored node is still fetching its own log back from its peers
 * (federation/own-log-recovery.ts), whom it waits for and what size it waits to reach, and, with
 * `--abandon-recovery`, the operator's word that it need not wait any longer (a peer that will
 * never answer). A running node notices within one poll interval; its listings and retractions are
 * accepted from then on. `--mark-restored` sets the mark `jointban restore` sets, for a database put
 * back with other tools (pg_restore, a base backup: docs/OPERATIONS.md, "PostgreSQL"), before the
 * node starts on it.
 *
 * The peers are the active peers of the roster the node holds; which of them answered, and with
 * what size, is what the running node recorded after its last round (a node that has not run yet
 * waits for all of them, for a size no peer has told it yet).
 */
import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { abandonOwnLogRecovery, markOwnLogRecovery, readOwnLogRecovery, readOwnLogRecoveryProgress } from '../federation/own-log-recovery.js';
import { activePeers } from '../roster/index.js';
import { configWithoutSecrets, printJson, withContext } from './options.js';

export function registerOwnLogCommand(program: Command): void {
  program
    .command('own-log')
    .description('show whether this node is still fetching its own log back from its peers after a restore, from whom, and up to what size')
    .requiredOption('--data-dir <dir>', 'the data directory')
    .option('--abandon-recovery', 'stop waiting for peers: accept listings and retractions on the log as it is (may fork it, see docs/OPERATIONS.md)')
    .option('--mark-restored', 'the database was restored with other tools (pg_restore, a base backup): fetch the own log back from the peers before listing again, as after jointban restore')
    .action(async (opts: { dataDir: string; abandonRecovery?: boolean; markRestored?: boolean }) => {
      if (opts.abandonRecovery === true && opts.markRestored === true) throw new AppError('invalid_input', '--mark-restored and --abandon-recovery: choose one');
      const config = configWithoutSecrets(opts.dataDir);
      await withContext(config, async (context) => {
        const { db } = context;
        // An existing mark stays as it is: it may already carry what a peer has shown.
        if (opts.markRestored === true && (await readOwnLogRecovery(db)) === undefined) await markOwnLogRecovery(db, { since: context.now().toISOString(), reason: 'restore' });
        const mark = await readOwnLogRecovery(db);
        const size = await context.repos.log.size(config.member);
        const abandoned = opts.abandonRecovery === true && (await abandonOwnLogRecovery(db, config.member));
        if (mark === undefined || abandoned) {
          printJson({ member: config.member, size, recovering: false, ...(mark ? { since: mark.since, reason: mark.reason } : {}), ...(abandoned ? { abandoned: true } : {}) });
          return;
        }
        const roster = await context.heldRoster();
        const peers = roster === undefined ? [] : activePeers(roster, config.member).map((m) => m.id);
        const progress = await readOwnLogRecoveryProgress(db, mark);
        const answered = peers.filter((p) => progress?.answered.includes(p));
        const waitingFor = peers.filter((p) => !answered.includes(p));
        const peerSizes = Object.fromEntries(answered.map((p) => [p, progress?.peerSizes[p] ?? 0]));
        // At least what it holds; more once a peer that has not answered yet turns out to hold more.
        const reach = Math.max(size, ...Object.values(peerSizes));
        const waiting =
          waitingFor.length === 0
            ? `every peer has answered; the node lifts the wait on its next round (its own log reaches ${reach} entries)`
            : `waiting for ${waitingFor.join(', ')} to answer; the own log reaches at least ${reach} entries (it holds ${size})`;
        printJson({ member: config.member, size, recovering: true, since: mark.since, reason: mark.reason, waitingFor, answered, peerSizes, reachesAtLeast: reach, waiting });
      });
    });
}
