/**
 * Putting a backup's database in place (docs/OPERATIONS.md, "Restore"), and the marker that keeps
 * a node from starting on restored data before every log in it has verified.
 *
 * The order matters. The backup is first copied next to the target while its SHA-256 is checked
 * against the manifest, and its structure with SQLite's quick_check, so a damaged or incomplete
 * file changes nothing. Only then is `RESTORE_PENDING` written into the data directory, the old
 * database's -wal and -shm removed (SQLite would otherwise replay an old write-ahead log onto the
 * new file) and the copy renamed into place. The marker is removed by the caller once the logs
 * verify; `createNode` refuses to start while it exists, so a restore that failed, or was killed
 * half-way, cannot be served from.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { migrationProvider } from '../../migrations/index.js';
import { AppError } from '../errors.js';
import { fsyncDirectory, writeFileAtomic } from '../durable-file.js';
import { hashFile, type BackupIdentity, type BackupManifest } from './backup.js';
import { quickCheck } from './sqlite/database-file.js';

export { databaseInUse } from './sqlite/database-file.js';

export const RESTORE_PENDING_FILE = 'RESTORE_PENDING';

export const restorePendingPath = (dataDir: string): string => join(dataDir, RESTORE_PENDING_FILE);

export function restorePending(dataDir: string): boolean {
  return existsSync(restorePendingPath(dataDir));
}

/** Called by createNode: a node never serves data whose restore did not finish verifying. */
export function assertNoPendingRestore(dataDir: string): void {
  if (restorePending(dataDir)) {
    throw new AppError('conflict', `${restorePendingPath(dataDir)}: restore did not finish verifying: run jointban restore again (docs/OPERATIONS.md, "Restore")`);
  }
}

export function markRestorePending(dataDir: string, details: Record<string, unknown>): void {
  writeFileAtomic(restorePendingPath(dataDir), `${JSON.stringify(details, null, 2)}\n`);
}

export function clearRestorePending(dataDir: string): void {
  rmSync(restorePendingPath(dataDir), { force: true });
  fsyncDirectory(dataDir);
}

const COMPANIONS = ['-wal', '-shm', '-journal'] as const;

/** A database file, or the write-ahead log of one, exists at `file`. */
export function databaseExists(file: string): boolean {
  return existsSync(file) || existsSync(`${file}-wal`);
}

/**
 * Whether a backup may be restored into a node of this identity with this version of jointban.
 * A backup of another member would make this node sign as one member over another's log.
 */
export async function checkCompatible(manifest: BackupManifest, node: BackupIdentity): Promise<void> {
  if (manifest.member !== node.member || manifest.federation !== node.federation) {
    throw new AppError('invalid_input', `the backup is of member ${manifest.member} in federation ${manifest.federation}, this data directory is ${node.member} in ${node.federation}`);
  }
  const known = new Set(Object.keys(await migrationProvider.getMigrations()));
  const unknown = manifest.migrations.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new AppError('invalid_input', `the backup was made by a newer jointban (${manifest.software}; migrations ${unknown.join(', ')}): restore it with that version or later`);
  }
}

/**
 * Copies the backup next to `target`, checking its size and SHA-256 on the way and its structure
 * afterwards. Returns the copy's path; on any fault the copy is removed and nothing else changed.
 */
export async function stageDatabase(backupFile: string, manifest: BackupManifest, target: string): Promise<string> {
  const staged = join(dirname(target), `.${basename(target)}.restore-${process.pid}.tmp`);
  rmSync(staged, { force: true });
  try {
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    const copied = await hashFile(backupFile, staged);
    if (copied.bytes !== manifest.database.bytes || copied.sha256 !== manifest.database.sha256) {
      throw new AppError(
        'invalid_input',
        `${backupFile}: damaged or incomplete: ${copied.bytes} bytes with SHA-256 ${copied.sha256.slice(0, 16)}…, the manifest says ${manifest.database.bytes} bytes with ${manifest.database.sha256.slice(0, 16)}…`,
      );
    }
    quickCheck(backupFile, staged);
    return staged;
  } catch (err) {
    rmSync(staged, { force: true });
    if (err instanceof AppError) throw err;
    throw new AppError('unavailable', `cannot copy ${backupFile} next to ${target} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Replaces the database at `target` with the staged copy; the old one's companions go with it. */
export function replaceDatabase(staged: string, target: string): void {
  for (const suffix of COMPANIONS) rmSync(`${target}${suffix}`, { force: true });
  renameSync(staged, target);
  fsyncDirectory(dirname(target));
}
