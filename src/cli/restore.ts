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
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { OriginVerification } from '../audit/verify.js';
import { boundedFetch } from '../common/bounded-fetch.js';
import type { NodeConfig } from '../config/load.js';
import { toHex } from '../crypto/encoding.js';
import { AppError } from '../errors.js';
import { markOwnLogRecovery } from '../federation/own-log-recovery.js';
import { nextKeyFile, readNextKey } from '../federation/signing-keys.js';
import type { Roster } from '../roster/index.js';
import { manifestKeys, restoreProblems } from '../audit/restore-checks.js';
import {
  discardStaged,
  finishRestore,
  manifestPathOf,
  manifestSignedBy,
  preflightRestore,
  readBackupManifest,
  refuseOnPostgres,
  stageRestore,
  stillPending,
  switchToRestored,
  type BackupManifest,
} from '../service/backups.js';
import { baseContext, configWithoutSecrets, httpUrl, withContext } from './options.js';
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

/** The public key of `<key file>.next`, when a rotation is under way. */
function nextPublicKey(config: NodeConfig): Uint8Array | undefined {
  return existsSync(nextKeyFile(config.signingKeyFile)) ? readNextKey(config.signingKeyFile).publicKey : undefined;
}

/**
 * Checks the manifest's signature before anything changes (the staged copy is the backup's
 * database, its hash already checked against the manifest), with the keys audit/restore-checks.ts
 * names. Returns the line that says which key signed.
 */
async function checkManifestSignature(config: NodeConfig, from: string, manifest: BackupManifest, staged: string): Promise<string> {
  if (manifest.version === 1) return 'warning: the manifest is a version 1 manifest and carries no signature (--allow-unsigned-manifest)';
  const roster: Roster | undefined = await withContext(config, (context) => context.heldRoster(), { open: { file: staged, readonly: true } });
  const next = nextPublicKey(config);
  const ownKeys = [baseContext(config).identity().publicKey, ...(next ? [next] : [])];
  const { publicKeys, whose } = manifestKeys({ roster, member: config.member, createdAt: manifest.createdAt, keyFile: config.signingKeyFile, ownKeys });
  const signer = manifestSignedBy(manifest, publicKeys);
  if (signer === undefined) {
    throw new AppError('invalid_input', `${manifestPathOf(from)}: the signature does not verify with ${whose}: the backup was changed after it was made, or is not this node's; nothing was restored`);
  }
  return `manifest signed by ${toHex(signer).slice(0, 16)}…, ${whose}`;
}

function problemsOf(manifest: BackupManifest, config: NodeConfig, verified: DataDirVerification): string[] {
  const base = baseContext(config);
  return restoreProblems({
    manifestLogs: manifest.logs,
    results: verified.results,
    roster: verified.keys.options.roster,
    member: config.member,
    keys: { keyFile: config.signingKeyFile, own: base.identity().publicKey, next: nextPublicKey(config) },
    now: base.now(),
  });
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
      refuseOnPostgres(config, 'restore');
      const manifest = readBackupManifest(from, opts.allowUnsignedManifest === true);
      await preflightRestore(config, manifest, opts.force === true, nodeAnswering);
      const staged = await stageRestore(from, manifest, config);
      let signedBy: string;
      try {
        signedBy = await checkManifestSignature(config, from, manifest, staged);
      } catch (err) {
        discardStaged(staged);
        throw err;
      }
      switchToRestored(config, from, manifest, staged);

      let verified: DataDirVerification;
      let problems: string[];
      try {
        // Migrated as a start would, so the verification sees the schema the node will run on.
        await withContext(config, async () => undefined);
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
      await withContext(config, (context) => markOwnLogRecovery(context.db, { since: context.now().toISOString(), reason: 'restore' }));
      finishRestore(config);
      const entries = verified.results.reduce((n, r) => n + r.entries, 0);
      process.stdout.write(`verified ${verified.results.length} logs, ${entries} entries in ${verified.seconds.toFixed(2)} s: the node may start\n`);
      const own = manifest.logs.find((l) => l.origin === config.member)?.size ?? 0;
      process.stderr.write(
        `note: the backup holds ${config.member}'s own log up to ${own} entries; once started, the node fetches any later ones back from its peers and refuses listings and retractions until every peer has answered (docs/OPERATIONS.md, "Restore")\n`,
      );
    });
}
