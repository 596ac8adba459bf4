/**
 * `jointban backup --data-dir DIR --to FILE [--force]`: a consistent copy of the node's database,
 * taken while the node runs (src/store/backup.ts), with its manifest `FILE.json`. Prints the
 * manifest on stdout. The backup deliberately leaves out the config file and the signing key:
 * stderr says so every time, so that nobody mistakes it for a backup of everything. The manifest is
 * signed with the node's signing key (store/backup-signature.ts), which restore checks.
 */
import type { Command } from 'commander';
import type { NodeConfig } from '../config/load.js';
import type { Ed25519KeyPair } from '../crypto/index.js';
import type { Roster } from '../roster/index.js';
import { backupDatabase, refuseOnPostgres, type BackupProgress } from '../service/backups.js';
import { baseContext, configWithoutSecrets, openContext, printJson } from './options.js';

interface BackupOptions {
  dataDir: string;
  to: string;
  force?: boolean;
}

export const SECRETS_NOT_INCLUDED = 'note: the backup holds the database only, not jointban.json (epoch secrets) or keys/ (the signing key): back those up separately, encrypted';

/** Percent copied on a terminal, at most once a second, overwritten in place. */
function progressLine(): { update(p: BackupProgress): void; done(): void } {
  if (!process.stderr.isTTY) return { update: () => undefined, done: () => undefined };
  let last = 0;
  let shown = false;
  return {
    update({ totalPages, remainingPages, restarts }) {
      if (Date.now() - last < 1000 || totalPages === 0) return;
      last = Date.now();
      shown = true;
      const percent = Math.floor((100 * (totalPages - remainingPages)) / totalPages);
      process.stderr.write(`\rbacking up: ${percent}% of ${totalPages.toLocaleString('en-US')} pages${restarts > 0 ? ' (the node wrote meanwhile: copying the rest in one step)' : ''}`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

/**
 * The key that signs the manifest: during a rotation, the one the roster the node holds makes valid
 * now (the next key once it has started), as the node itself would sign; the key file otherwise.
 */
async function keyValidNow(config: NodeConfig): Promise<Ed25519KeyPair> {
  const keys = baseContext(config).signingKeys();
  let roster: Roster | undefined;
  const context = await openContext(config, { open: { readonly: true } }).catch(() => undefined);
  try {
    // A roster that does not verify here fails the restore's own check anyway; the backup still goes ahead.
    roster = context ? await context.heldRoster().catch(() => undefined) : undefined;
  } finally {
    await context?.close();
  }
  return keys.now(roster, config.member, new Date().toISOString());
}

export function registerBackupCommand(program: Command): void {
  program
    .command('backup')
    .description("a consistent copy of the node's database, taken while it runs, with a manifest FILE.json (not the config or keys)")
    .requiredOption('--data-dir <dir>', 'the data directory of the node')
    .requiredOption('--to <file>', 'the backup file to write; its manifest goes to <file>.json')
    .option('--force', 'replace an existing backup of that name')
    .action(async (opts: BackupOptions) => {
      const config = configWithoutSecrets(opts.dataDir);
      refuseOnPostgres(config, 'backup');
      const signingKey = await keyValidNow(config);
      const progress = progressLine();
      const result = await backupDatabase(config, signingKey, { to: opts.to, force: opts.force === true, onProgress: (p) => progress.update(p) }).finally(() => progress.done());
      printJson({ file: result.file, manifestFile: result.manifestFile, ...result.manifest });
      // After the copy, so that a failure still prints one line only.
      process.stderr.write(`${SECRETS_NOT_INCLUDED}\n`);
    });
}
