/**
 * `jointban restore --from FILE --data-dir DIR [--force] [--require-cosignatures]`: puts a backup's
 * database into a data directory and re-verifies every log in it before a node may start there.
 *
 * DIR must already hold the node's `jointban.json` and `keys/`, restored from their own backup:
 * a backup has neither. Refused before anything changes: a backup of another member or federation
 * or made by a newer jointban; a damaged or incomplete file (size and SHA-256 against the manifest,
 * SQLite's quick_check); an existing database without --force, unless an unfinished restore left
 * it; a node answering /healthz on the configured address, or any process holding the database
 * open. Then the database goes in place under a RESTORE_PENDING marker (src/store/restore.ts), is
 * migrated as a start would, and is verified as `jointban verify` does: with the roster it holds,
 * checked against DIR's trust root, or without one, the node's own log with its own key. Its logs
 * must also be those the manifest lists, and the key in keys/ the one the roster holds for this
 * member. Only then is the marker removed; otherwise the command exits 1 and the marker stays.
 */
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { OriginVerification } from '../audit/verify.js';
import { boundedFetch } from '../common/bounded-fetch.js';
import type { NodeConfig } from '../config/load.js';
import { bytesEqual, toHex } from '../crypto/encoding.js';
import { AppError } from '../errors.js';
import { markOwnLogRecovery } from '../federation/own-log-recovery.js';
import { nextKeyFile } from '../federation/signing-keys.js';
import { findMember, keyValidAt, memberKeys, type Roster } from '../roster/index.js';
import { manifestPathOf, readManifest, type BackupManifest } from '../store/backup.js';
import { manifestSigner } from '../store/backup-signature.js';
import { openDatabase } from '../store/database.js';
import { readKeyFile } from '../store/key-file.js';
import {
  checkCompatible,
  clearRestorePending,
  databaseExists,
  databaseInUse,
  markRestorePending,
  replaceDatabase,
  RESTORE_PENDING_FILE,
  restorePending,
  stageDatabase,
} from '../store/restore.js';
import { heldRoster } from './held-roster.js';
import { configWithoutSecrets, httpUrl } from './options.js';
import { verifyDataDir, type DataDirVerification } from './verify.js';

interface RestoreOptions {
  from: string;
  dataDir: string;
  force?: boolean;
  requireCosignatures?: boolean;
  allowUnsignedManifest?: boolean;
}

const SHOWN_FAILURES = 5;

/** The URL and member of a jointban node answering on the configured address, if one does. */
async function nodeAnswering(http: NodeConfig['http']): Promise<{ url: string; member: string } | undefined> {
  if (http.port === 0) return undefined;
  const host = http.host === '0.0.0.0' ? '127.0.0.1' : http.host === '::' ? '::1' : http.host;
  const url = httpUrl(host, http.port);
  try {
    const res = await boundedFetch(`${url}/healthz`, { method: 'GET', timeoutMs: 2000, maxBytes: 64 * 1024 });
    const body: unknown = JSON.parse(Buffer.from(res.body).toString('utf8'));
    if (typeof body === 'object' && body !== null && 'member' in body) return { url, member: String(body.member) };
  } catch {
    // Nothing listening, or something that is not a jointban node: either way not ours to stop.
  }
  return undefined;
}

/** Refusals that leave everything as it was. */
async function preflight(config: NodeConfig, manifest: BackupManifest, force: boolean): Promise<void> {
  await checkCompatible(manifest, { member: config.member, federation: config.federation, role: config.role });
  const target = config.databaseFile;
  if (databaseExists(target) && !force && !restorePending(config.dataDir)) {
    throw new AppError('conflict', `${target} already exists: stop the node and add --force to replace it with the backup`);
  }
  const answering = await nodeAnswering(config.http);
  if (answering) throw new AppError('conflict', `a jointban node (${answering.member}) answers on ${answering.url}: stop it before restoring`);
  if (databaseInUse(target)) throw new AppError('conflict', `${target} is open in another process (a running node, a backup or a verify): stop it before restoring`);
}

/**
 * Checks the manifest's signature before anything changes (the staged copy is the backup's
 * database, its hash already checked against the manifest): it must verify with a key the roster
 * in that database (itself verified against this data directory's trust root) lists for this
 * member, valid when the manifest says the backup was made. Without a roster: with the node's own
 * key file or its next key. Returns the line that says which key signed.
 */
async function checkManifestSignature(config: NodeConfig, from: string, manifest: BackupManifest, staged: string): Promise<string> {
  if (manifest.version === 1) return 'warning: the manifest is a version 1 manifest and carries no signature (--allow-unsigned-manifest)';
  const handle = await openDatabase({ driver: 'sqlite', file: staged, readonly: true });
  let roster: Roster | undefined;
  try {
    roster = await heldRoster(config, handle.db);
  } finally {
    await handle.close();
  }
  const next = nextKeyFile(config.signingKeyFile);
  const keys = roster
    ? memberKeys(findMember(roster, config.member))
        .filter((k) => keyValidAt(k, manifest.createdAt))
        .map((k) => k.publicKey)
    : [config.signingKeyFile, ...(existsSync(next) ? [next] : [])].map((f) => readKeyFile(f).publicKey);
  const signer = manifestSigner(manifest, keys);
  const whose = roster ? `a key roster version ${roster.version} lists for ${config.member} at ${manifest.createdAt}` : `the key in ${config.signingKeyFile} (the backup holds no roster)`;
  if (signer === undefined) {
    throw new AppError('invalid_input', `${manifestPathOf(from)}: the signature does not verify with ${whose}: the backup was changed after it was made, or is not this node's; nothing was restored`);
  }
  return `manifest signed by ${toHex(signer).slice(0, 16)}…, ${whose}`;
}

/** Differences between what the manifest lists and what verified, and a key the roster does not hold. */
function problemsOf(manifest: BackupManifest, config: NodeConfig, verified: DataDirVerification): string[] {
  const problems: string[] = [];
  const held = new Map(verified.results.map((r) => [r.origin, r]));
  for (const log of manifest.logs) {
    const r = held.get(log.origin);
    if (r === undefined) problems.push(`the manifest lists ${log.origin}'s log with ${log.size} entries; the database holds none`);
    else if (r.ok && r.entries !== log.size) problems.push(`the manifest lists ${log.origin}'s log with ${log.size} entries; the database holds ${r.entries}`);
  }
  for (const r of verified.results) {
    if (!manifest.logs.some((l) => l.origin === r.origin)) problems.push(`the database holds a log of ${r.origin} that the manifest does not list`);
  }
  const roster = verified.keys.options.roster;
  const rosterKeys = roster ? memberKeys(findMember(roster, config.member)) : [];
  const own = readKeyFile(config.signingKeyFile).publicKey;
  const listed = rosterKeys.find((k) => bytesEqual(k.publicKey, own));
  if (rosterKeys.length > 0 && listed === undefined) {
    problems.push(`${config.signingKeyFile} is not the key the roster holds for ${config.member}: restore the node's own keys/ too`);
  } else if (listed !== undefined && listed.validUntil !== undefined && Date.parse(listed.validUntil) <= Date.now()) {
    // During a rotation the key file may hold the old key, as long as the roster has not retired it
    // or the new key is there beside it: a node left with a retired key only cannot sign.
    const next = nextKeyFile(config.signingKeyFile);
    const nextKey = existsSync(next) ? readKeyFile(next).publicKey : undefined;
    const now = new Date().toISOString();
    if (!rosterKeys.some((k) => nextKey !== undefined && bytesEqual(k.publicKey, nextKey) && keyValidAt(k, now))) {
      problems.push(`${config.signingKeyFile} holds a key the roster retired at ${listed.validUntil}: restore keys/ as it was after the rotation (node.key.next, or node.key once keys finish ran)`);
    }
  }
  return problems;
}

function originLine(r: OriginVerification): string {
  const counts = `${r.entries} entries, ${r.checkpoints} checkpoints (${r.cosignedCheckpoints} cosigned)`;
  return `${r.origin.padEnd(16)} ${r.ok ? 'OK    ' : 'FAILED'}  ${counts}${r.ok ? '' : `, ${r.failureCount} failures`}`;
}

function printSummary(from: string, manifest: BackupManifest, verified: DataDirVerification, problems: string[]): void {
  const lines = [`restored ${from} (${manifest.member}, taken ${manifest.createdAt}) into ${verified.config.dataDir}`];
  lines.push(
    verified.keys.rosterVersion === null
      ? `this node holds no roster: only its own log (${manifest.member}) is verified, with its own key`
      : `federation ${manifest.federation}, roster version ${verified.keys.rosterVersion}, witness ${verified.keys.options.witness?.name ?? 'none'}`,
  );
  for (const r of verified.results) {
    lines.push(originLine(r));
    for (const f of r.failures.slice(0, SHOWN_FAILURES)) {
      const where = f.index !== undefined ? ` at index ${f.index}` : f.size !== undefined ? ` at size ${f.size}` : '';
      lines.push(`  ${f.kind}${where}: ${f.message}`);
    }
    if (r.failureCount > SHOWN_FAILURES) lines.push(`  … and ${r.failureCount - SHOWN_FAILURES} more (jointban verify --json lists them)`);
  }
  for (const p of problems) lines.push(`problem: ${p}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

const stillPending = (dataDir: string) => `${RESTORE_PENDING_FILE} stays in ${dataDir}, so no node will start on this data`;

export function registerRestoreCommand(program: Command): void {
  program
    .command('restore')
    .description('put a backup into a data directory and re-verify every log in it; the node may start only if all verifies')
    .requiredOption('--from <file>', 'the backup file (its manifest <file>.json must be next to it)')
    .requiredOption('--data-dir <dir>', "the data directory, holding the node's jointban.json and keys/ already")
    .option('--force', 'replace the database the data directory holds')
    .option('--require-cosignatures', 'a checkpoint without a witness cosignature is a failure, not a warning')
    .option('--allow-unsigned-manifest', 'accept a version 1 manifest, which carries no signature (backups made before signed manifests)')
    .action(async (opts: RestoreOptions) => {
      const from = resolve(opts.from);
      const config = configWithoutSecrets(resolve(opts.dataDir));
      const manifest = readManifest(from, { allowUnsigned: opts.allowUnsignedManifest === true });
      await preflight(config, manifest, opts.force === true);
      const staged = await stageDatabase(from, manifest, config.databaseFile);
      let signedBy: string;
      try {
        signedBy = await checkManifestSignature(config, from, manifest, staged);
      } catch (err) {
        rmSync(staged, { force: true });
        throw err;
      }
      try {
        // Checked again just before the switch: a node may have been started since the first look.
        if (databaseInUse(config.databaseFile)) throw new AppError('conflict', `${config.databaseFile} was opened by another process meanwhile: stop it and run jointban restore again`);
        markRestorePending(config.dataDir, { from, startedAt: new Date().toISOString(), member: manifest.member, createdAt: manifest.createdAt, sha256: manifest.database.sha256 });
        replaceDatabase(staged, config.databaseFile);
      } catch (err) {
        rmSync(staged, { force: true });
        throw err;
      }

      let verified: DataDirVerification;
      let problems: string[];
      try {
        // Migrated as a start would, so the verification sees the schema the node will run on.
        await (await openDatabase({ driver: 'sqlite', file: config.databaseFile })).close();
        verified = await verifyDataDir(config.dataDir, { requireCosignatures: opts.requireCosignatures === true });
        problems = problemsOf(manifest, config, verified);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        throw new AppError(err.code, `restore did not verify: ${err.message}; ${stillPending(config.dataDir)}`);
      }
      printSummary(from, manifest, verified, problems);
      process.stdout.write(`${signedBy}\n`);
      const failed = verified.results.filter((r) => !r.ok).map((r) => r.origin);
      if (failed.length > 0 || problems.length > 0) {
        const what = [...(failed.length > 0 ? [`verification failed for ${failed.join(', ')}`] : []), ...(problems.length > 0 ? [`${problems.length} problems with the manifest or keys`] : [])];
        throw new AppError('invalid_input', `restore did not verify (${what.join('; ')}); ${stillPending(config.dataDir)}`);
      }
      // Peers may hold entries this node appended after the backup; appending again would fork its
      // log. Marked before the pending marker goes, so no crash leaves a startable node unmarked.
      const database = await openDatabase({ driver: 'sqlite', file: config.databaseFile });
      try {
        await markOwnLogRecovery(database.db, { since: new Date().toISOString(), reason: 'restore' });
      } finally {
        await database.close();
      }
      clearRestorePending(config.dataDir);
      const entries = verified.results.reduce((n, r) => n + r.entries, 0);
      process.stdout.write(`verified ${verified.results.length} logs, ${entries} entries in ${verified.seconds.toFixed(2)} s: the node may start\n`);
      const own = manifest.logs.find((l) => l.origin === config.member)?.size ?? 0;
      process.stderr.write(
        `note: the backup holds ${config.member}'s own log up to ${own} entries; once started, the node fetches any later ones back from its peers and refuses listings and retractions until every peer has answered (docs/OPERATIONS.md, "Restore")\n`,
      );
    });
}
