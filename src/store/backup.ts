/**
 * Backups of a node's database (docs/OPERATIONS.md, "Backups"): the format, taking one while the
 * node runs, and reading its manifest back.
 *
 * A backup is two files. `FILE` is a plain SQLite database holding a consistent snapshot of the
 * node's database, taken with SQLite's online backup API (sqlite.org/backup.html) through a
 * separate read-only connection, so the node, usually another process, keeps serving and writing
 * meanwhile. The copy is switched to rollback-journal mode so that it stands alone, with no -wal or
 * -shm companion. `FILE.json` is its manifest: the format, member, federation and time, the
 * migrations the database has, the size of every log, and the size and SHA-256 of `FILE`, which a
 * restore checks before it touches anything. Both are written to a temporary name, flushed and
 * renamed, so a crash leaves the old backup or the new one, never half of one.
 *
 * Neither file holds an epoch secret or the node's signing key: those live in `jointban.json`, the
 * environment and `keys/`, which operators back up separately and encrypted. Both do hold tokens,
 * listing references and API key hashes, and need the care of the database itself.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { toHex } from '../crypto/encoding.js';
import { createSha256, type Ed25519KeyPair } from '../crypto/index.js';
import { AppError } from '../errors.js';
import { writeFileAtomic } from '../durable-file.js';
import { VERSION } from '../version.js';
import { signManifest } from './backup-signature.js';
import { openDatabase } from './database.js';
import { appliedMigrations, copyOnline, sealCopy } from './sqlite/database-file.js';

export const BACKUP_FORMAT = 'jointban-backup';
/** 2: the manifest is signed (backup-signature.ts). A version 1 manifest is unsigned. */
export const BACKUP_FORMAT_VERSION = 2;

const HEX_SHA256 = /^[0-9a-f]{64}$/;

// Strict: the signature covers every field, so a field this version does not know is refused, not dropped.
const manifestSchema = z
  .object({
    format: z.literal(BACKUP_FORMAT),
    version: z.union([z.literal(1), z.literal(BACKUP_FORMAT_VERSION)]),
    createdAt: z.string(),
    software: z.string(),
    member: z.string(),
    federation: z.string(),
    role: z.enum(['member', 'association']),
    /** The backup database file: its size in bytes and lower-case hex SHA-256. */
    database: z.object({ bytes: z.number().int().nonnegative(), sha256: z.string().regex(HEX_SHA256) }),
    /** Names of the migrations applied to the backed-up database, in order. */
    migrations: z.array(z.string()),
    rosterVersion: z.number().int().positive().nullable(),
    listings: z.number().int().nonnegative(),
    /** Every log held: entries (the highest seq) and the largest checkpoint stored. */
    logs: z.array(z.object({ origin: z.string(), size: z.number().int().nonnegative(), checkpoint: z.number().int().nonnegative() }).strict()),
    /** The node's signature over every other field (version 2; backup-signature.ts). */
    signature: z
      .object({ publicKey: z.string().regex(/^[0-9a-f]{64}$/), ed25519: z.string().max(100) })
      .strict()
      .optional(),
  })
  .strict();

export type BackupManifest = z.infer<typeof manifestSchema>;

export interface BackupIdentity {
  member: string;
  federation: string;
  role: 'member' | 'association';
}

export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
  /** Steps that made no headway because the node wrote meanwhile; after the first, the rest goes in one step. */
  restarts: number;
}

export interface CreateBackupOptions {
  /** The node's database file. */
  databaseFile: string;
  /** Where the backup goes; its manifest is written next to it as `<to>.json`. */
  to: string;
  /** Replace an existing backup at `to`. */
  force?: boolean;
  identity: BackupIdentity;
  /** The node's signing key: it signs the manifest. */
  signingKey: Ed25519KeyPair;
  now?: () => Date;
  onProgress?: (progress: BackupProgress) => void;
  /** Pages copied per step until the first restart (tests use 1 to provoke one). */
  stepPages?: number;
}

export interface BackupResult {
  file: string;
  manifestFile: string;
  manifest: BackupManifest;
  restarts: number;
}

/** 4096 pages of 4 KiB: progress every 16 MiB. */
const DEFAULT_STEP_PAGES = 4096;

export const manifestPathOf = (file: string): string => `${file}.json`;

/** Size and SHA-256 of a file, read in chunks; optionally copied to `copyTo` (flushed) on the way. */
export async function hashFile(file: string, copyTo?: string): Promise<{ bytes: number; sha256: string }> {
  const h = createSha256();
  let bytes = 0;
  const input = await open(file, 'r');
  const output = copyTo !== undefined ? await open(copyTo, 'wx', 0o600) : undefined;
  try {
    const buffer = Buffer.alloc(1 << 20);
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      h.update(chunk);
      bytes += bytesRead;
      if (output) await output.write(chunk);
    }
    await output?.sync();
  } finally {
    await input.close();
    await output?.close();
  }
  return { bytes, sha256: toHex(h.digest()) };
}

/** What the manifest says about the data: read from the copy, so it describes exactly the snapshot. */
async function summarise(file: string): Promise<Pick<BackupManifest, 'migrations' | 'rosterVersion' | 'listings' | 'logs'>> {
  const handle = await openDatabase({ driver: 'sqlite', file, readonly: true });
  try {
    const { db } = handle;
    const sizes = await db
      .selectFrom('log_entries')
      .select((eb) => ['origin', eb.fn.max('seq').as('size')])
      .groupBy('origin')
      .execute();
    const signed = await db
      .selectFrom('checkpoints')
      .select((eb) => ['origin', eb.fn.max('size').as('size')])
      .groupBy('origin')
      .execute();
    const logs = new Map<string, { origin: string; size: number; checkpoint: number }>();
    for (const r of sizes) logs.set(r.origin, { origin: r.origin, size: Number(r.size), checkpoint: 0 });
    for (const r of signed) logs.set(r.origin, { origin: r.origin, size: logs.get(r.origin)?.size ?? 0, checkpoint: Number(r.size) });
    const listings = await db
      .selectFrom('listings')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    const roster = await db
      .selectFrom('rosters')
      .select((eb) => eb.fn.max('version').as('v'))
      .executeTakeFirst();
    return {
      migrations: appliedMigrations(handle.sqlite),
      rosterVersion: roster?.v === null || roster?.v === undefined ? null : Number(roster.v),
      listings: Number(listings?.n ?? 0),
      logs: [...logs.values()].sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0)),
    };
  } finally {
    await handle.close();
  }
}

export async function createBackup(options: CreateBackupOptions): Promise<BackupResult> {
  const to = resolve(options.to);
  const manifestFile = manifestPathOf(to);
  const databaseFile = resolve(options.databaseFile);
  const live = ['', '-wal', '-shm', '-journal'].map((suffix) => `${databaseFile}${suffix}`);
  if (live.includes(to) || live.includes(manifestFile)) throw new AppError('invalid_input', `--to ${options.to}: that is the node's own database`);
  if (!options.force && (existsSync(to) || existsSync(manifestFile))) {
    throw new AppError('conflict', `${existsSync(to) ? to : manifestFile} already exists: choose another name or add --force to replace it`);
  }
  if (!existsSync(dirname(to))) throw new AppError('invalid_input', `--to ${options.to}: the directory ${dirname(to)} does not exist`);
  if (!existsSync(databaseFile)) throw new AppError('not_found', `no database at ${databaseFile}: nothing to back up`);

  const now = options.now ?? (() => new Date());
  const createdAt = now().toISOString();
  const tmp = join(dirname(to), `.${basename(to)}.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  // Created empty (an empty file is an empty SQLite database) so that it is never readable by
  // others, not even while the copy is written: it holds tokens and API key hashes.
  closeSync(openSync(tmp, 'wx', 0o600));
  const restarts = await copyOnline(databaseFile, tmp, options.stepPages ?? DEFAULT_STEP_PAGES, options.onProgress);
  try {
    sealCopy(tmp);
    const described = await summarise(tmp);
    // Flushed before the rename: after a power cut the name never points at pages not on disk.
    const database = await hashFile(tmp);
    const fd = openSync(tmp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const manifest: BackupManifest = signManifest(
      {
        format: BACKUP_FORMAT,
        version: BACKUP_FORMAT_VERSION,
        createdAt,
        software: VERSION,
        ...options.identity,
        database,
        ...described,
      },
      options.signingKey,
    );
    renameSync(tmp, to);
    writeFileAtomic(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    return { file: to, manifestFile, manifest, restarts };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Reads and checks a backup's manifest (`FILE.json`). Its content is whatever was handed over, so
 * it is parsed defensively and every fault is one line naming the file.
 */
export function readManifest(file: string, options: { allowUnsigned?: boolean } = {}): BackupManifest {
  const manifestFile = manifestPathOf(resolve(file));
  if (!existsSync(resolve(file))) throw new AppError('not_found', `${file}: no such backup file`);
  let text: string;
  try {
    text = readFileSync(manifestFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AppError('invalid_input', `${manifestFile}: ${code === 'ENOENT' ? 'not found (a backup is FILE and its manifest FILE.json, kept together)' : `cannot read (${code ?? 'error'})`}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new AppError('invalid_input', `${manifestFile}: not a jointban backup manifest (not JSON)`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError(
      'invalid_input',
      `${manifestFile}: not a ${BACKUP_FORMAT} version ${BACKUP_FORMAT_VERSION} manifest (${issue ? `${issue.path.join('.') || '(top level)'}: ${issue.message}` : 'invalid'})`,
    );
  }
  if (parsed.data.version === BACKUP_FORMAT_VERSION && parsed.data.signature === undefined) {
    throw new AppError('invalid_input', `${manifestFile}: the manifest carries no signature`);
  }
  if (parsed.data.version === 1 && !options.allowUnsigned) {
    throw new AppError(
      'invalid_input',
      `${manifestFile}: a version 1 manifest carries no signature, so nothing shows it was not edited: add --allow-unsigned-manifest only for a backup kept where nobody could change it`,
    );
  }
  return parsed.data;
}
