/**
 * `jointban evidence digest FILE…` computes the evidence digest a platform attaches to a listing
 * (`evidenceDigest`); `jointban evidence verify --data-dir DIR --listing ID FILE…` lets an auditor
 * check the files an origin handed over against the digest committed in the origin's signed log
 * entry. The format is in docs/PROTOCOL.md, "Evidence digests"; the workflow in docs/AUDIT.md.
 */
import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { evidenceDigest, EVIDENCE_FORMAT, hashChunks, type HashedFile } from '../audit/evidence.js';
import { AppError } from '../errors.js';
import { decodeEntry, parseListingId } from '../log/entry.js';
import { configWithoutSecrets, printJson, withContext } from './options.js';

interface FileHash extends HashedFile {
  file: string;
}

/** Hashes each file as a stream, so evidence of any size is read in chunks. */
async function hashFiles(files: readonly string[]): Promise<FileHash[]> {
  const seen = new Set<string>();
  const out: FileHash[] = [];
  for (const file of files) {
    const full = resolve(file);
    if (seen.has(full)) throw new AppError('invalid_input', `${file} is given twice`);
    seen.add(full);
    let isFile: boolean;
    try {
      isFile = statSync(full).isFile();
    } catch (err) {
      throw new AppError('invalid_input', `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!isFile) throw new AppError('invalid_input', `${file} is not a regular file (give the files of a folder one by one, e.g. DIR/*)`);
    try {
      out.push({ file, ...(await hashChunks(createReadStream(full))) });
    } catch (err) {
      throw new AppError('invalid_input', `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return out;
}

/** The evidence digest committed in a listing's signed entry, read from the entry bytes. */
async function committedDigest(dataDir: string, id: string): Promise<{ digest: string; checkpointSize: number | null }> {
  const parsed = parseListingId(id);
  if (!parsed.ok) throw new AppError('invalid_input', `--listing: ${parsed.error}`);
  return withContext(configWithoutSecrets(dataDir), async ({ repos }) => {
    const stored = await repos.log.entry(parsed.origin, parsed.seq);
    if (!stored) throw new AppError('not_found', `this node holds no entry ${id}`);
    const decoded = decodeEntry(stored.bytes);
    if (!decoded.ok) throw new AppError('internal', `the stored entry ${id} does not decode: ${decoded.error}`);
    const entry = decoded.entry;
    if (entry.kind !== 'listing') throw new AppError('invalid_input', `${id} is a ${entry.kind} entry, not a listing`);
    // The projection is derived from the entry; if they disagree the store is damaged, and the
    // signed bytes are what counts, but an auditor must hear about it.
    const row = await repos.listings.byId(id);
    if (row && row.evidence_digest !== (entry.evidenceDigest ?? null)) {
      throw new AppError('internal', `the listings table disagrees with the signed entry of ${id}: the store is damaged`);
    }
    if (entry.evidenceDigest === undefined) throw new AppError('invalid_input', `listing ${id} has no evidence digest: its origin committed to no evidence`);
    const cp = await repos.checkpoints.covering(parsed.origin, parsed.seq - 1);
    return { digest: entry.evidenceDigest, checkpointSize: cp?.size ?? null };
  });
}

export function registerEvidenceCommands(program: Command): void {
  const evidence = program.command('evidence').description('evidence digests: compute one for a listing, or verify evidence against a listing');
  evidence
    .command('digest')
    .description(`print the evidence digest (${EVIDENCE_FORMAT}) of the files, for a listing's evidenceDigest`)
    .argument('<files...>', 'the evidence files (their names are not part of the digest)')
    .option('--json', 'print the per-file SHA-256 hashes too, as JSON')
    .action(async (files: string[], opts: { json?: boolean }) => {
      const hashed = await hashFiles(files);
      const digest = evidenceDigest(hashed.map((h) => h.sha256));
      if (opts.json) printJson({ format: EVIDENCE_FORMAT, digest, files: hashed.map((h) => ({ file: h.file, sha256: h.sha256, bytes: h.bytes })) });
      else process.stdout.write(`${digest}\n`);
    });
  evidence
    .command('verify')
    .description("check evidence files against the digest committed in a listing's signed log entry; exits 0 only on a match")
    .requiredOption('--data-dir <dir>', 'the data directory of a node that holds the listing (its own or a mirrored log)')
    .requiredOption('--listing <id>', 'the listing id, <origin>:<seq>')
    .argument('<files...>', 'the evidence files handed over by the origin')
    .action(async (files: string[], opts: { dataDir: string; listing: string }) => {
      const committed = await committedDigest(opts.dataDir, opts.listing);
      const hashed = await hashFiles(files);
      const computed = evidenceDigest(hashed.map((h) => h.sha256));
      const match = computed === committed.digest;
      printJson({
        listing: opts.listing,
        result: match ? 'match' : 'mismatch',
        committed: committed.digest,
        computed,
        files: hashed.map((h) => ({ file: h.file, sha256: h.sha256, bytes: h.bytes })),
        checkpointSize: committed.checkpointSize,
      });
      if (!match) throw new AppError('invalid_input', `mismatch: the ${hashed.length} file(s) do not match the evidence digest committed in ${opts.listing}`);
    });
}
