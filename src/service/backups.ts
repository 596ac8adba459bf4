/**
 * The backup and restore steps of a node's data directory as `jointban backup` and `jointban
 * restore` run them (docs/OPERATIONS.md, "Backups" and "Restore"): the steps that touch the
 * database file, its copy and the restore marker (src/store/backup.ts, src/store/restore.ts), so
 * the commands only decide, call and print. The order of the restore steps is the safety argument
 * of store/restore.ts: refusals first, then the staged copy, then the marker and the switch.
 */
import { rmSync } from 'node:fs';
import type { NodeConfig } from '../config/load.js';
import type { Ed25519KeyPair } from '../crypto/index.js';
import { AppError } from '../errors.js';
import { createBackup, manifestPathOf, readManifest, type BackupManifest, type BackupProgress, type BackupResult } from '../store/backup.js';
import { manifestSigner } from '../store/backup-signature.js';
import { checkCompatible, clearRestorePending, databaseExists, databaseInUse, markRestorePending, replaceDatabase, RESTORE_PENDING_FILE, restorePending, stageDatabase } from '../store/restore.js';

export type { BackupManifest, BackupProgress, BackupResult };
export { manifestPathOf };

/**
 * Backup and restore copy a SQLite file. A PostgreSQL node's data lives in a server the platform
 * already backs up, with tools that do it better (pg_dump, base backups with a WAL archive): the
 * commands refuse such a node before they read or write anything, and point to the procedure.
 */
export function refuseOnPostgres(config: NodeConfig, command: 'backup' | 'restore'): void {
  if (config.database.driver !== 'postgres') return;
  throw new AppError(
    'invalid_input',
    `jointban ${command} works on a SQLite node only: this node keeps its data in PostgreSQL, whose own tools back it up and restore it (pg_dump, or a base backup with a WAL archive, then jointban verify): see docs/OPERATIONS.md, "PostgreSQL"; nothing was written`,
  );
}

/** A consistent copy of the node's database, taken while it runs, with its manifest signed by `signingKey`. */
export function backupDatabase(config: NodeConfig, signingKey: Ed25519KeyPair, options: { to: string; force: boolean; onProgress: (p: BackupProgress) => void }): Promise<BackupResult> {
  return createBackup({
    databaseFile: config.databaseFile,
    identity: { member: config.member, federation: config.federation, role: config.role },
    signingKey,
    ...options,
  });
}

/** The manifest beside a backup file; a version 1 manifest (unsigned) only when allowed. */
export function readBackupManifest(from: string, allowUnsigned: boolean): BackupManifest {
  return readManifest(from, { allowUnsigned });
}

/** The one of `keys` that signed the manifest, or undefined when none did. */
export function manifestSignedBy(manifest: BackupManifest, keys: readonly Uint8Array[]): Uint8Array | undefined {
  return manifestSigner(manifest, keys);
}

/** How the refusal of an unfinished restore ends: the marker stays. */
export const stillPending = (dataDir: string): string => `${RESTORE_PENDING_FILE} stays in ${dataDir}, so no node will start on this data`;

/** A running node found on the configured address (the command probes its /healthz). */
export type NodeProbe = (http: NodeConfig['http']) => Promise<{ url: string; member: string } | undefined>;

/** Refusals that leave everything as it was. */
export async function preflightRestore(config: NodeConfig, manifest: BackupManifest, force: boolean, nodeAnswering: NodeProbe): Promise<void> {
  await checkCompatible(manifest, { member: config.member, federation: config.federation, role: config.role });
  const target = config.databaseFile;
  if (databaseExists(target) && !force && !restorePending(config.dataDir)) {
    throw new AppError('conflict', `${target} already exists: stop the node and add --force to replace it with the backup`);
  }
  const answering = await nodeAnswering(config.http);
  if (answering) throw new AppError('conflict', `a jointban node (${answering.member}) answers on ${answering.url}: stop it before restoring`);
  if (databaseInUse(target)) throw new AppError('conflict', `${target} is open in another process (a running node, a backup or a verify): stop it before restoring`);
}

/** Copies the backup next to the database, checked against the manifest; returns the staged file. */
export function stageRestore(from: string, manifest: BackupManifest, config: NodeConfig): Promise<string> {
  return stageDatabase(from, manifest, config.databaseFile);
}

/** Removes a staged copy that will not be put in place. */
export function discardStaged(staged: string): void {
  rmSync(staged, { force: true });
}

/** Writes the restore marker and puts the staged copy in place; the staged copy is removed on failure. */
export function switchToRestored(config: NodeConfig, from: string, manifest: BackupManifest, staged: string): void {
  try {
    // Checked again just before the switch: a node may have been started since the first look.
    if (databaseInUse(config.databaseFile)) throw new AppError('conflict', `${config.databaseFile} was opened by another process meanwhile: stop it and run jointban restore again`);
    markRestorePending(config.dataDir, { from, startedAt: new Date().toISOString(), member: manifest.member, createdAt: manifest.createdAt, sha256: manifest.database.sha256 });
    replaceDatabase(staged, config.databaseFile);
  } catch (err) {
    discardStaged(staged);
    throw err;
  }
}

/** Removes the restore marker: a node may start on the data directory from now on. */
export function finishRestore(config: NodeConfig): void {
  clearRestorePending(config.dataDir);
}
