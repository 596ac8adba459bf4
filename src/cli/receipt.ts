/**
 * `jointban receipt verify FILE`: checks receipts offline. The origin's key comes from a roster,
 * which is itself verified against the trust root: either given as files (`--roster` and
 * `--trust-root`), or the roster a node holds (`--data-dir`). FILE holds one receipt, a list of
 * them, or a whole check response with its `receipts`.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { parseTrustRootKey } from '../federation/roster-holder.js';
import { verifyReceipt } from '../log/receipt.js';
import { findMember, memberKeys, openRoster, type Roster } from '../roster/index.js';
import { baseContext, configWithoutSecrets, printJson, withContext } from './options.js';

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new AppError('invalid_input', `cannot read ${what} ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** The roster the node holds, verified against its trust root (the context's `heldRoster`, as every command reads it). */
async function rosterFromDataDir(dataDir: string): Promise<Roster> {
  const config = configWithoutSecrets(dataDir);
  // Before the database is opened: without a trust root no held roster can be trusted.
  if (baseContext(config).trustRoot() === undefined) throw new AppError('invalid_input', `${config.configFile}: roster.trustRoot is not set`);
  const roster = await withContext(config, (context) => context.heldRoster());
  if (roster === undefined) throw new AppError('invalid_input', 'this node holds no roster yet');
  return roster;
}

function receiptsIn(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  const receipts = (value as { receipts?: unknown } | null)?.receipts;
  if (Array.isArray(receipts)) return receipts;
  return [value];
}

export function registerReceiptCommands(program: Command): void {
  const receipt = program.command('receipt').description('work with listing receipts');
  receipt
    .command('verify')
    .description('verify receipts offline against the roster: signed checkpoint, entry bytes and inclusion proof')
    .argument('<file>', 'a receipt, a JSON list of receipts, or a check response with "receipts"')
    .option('--roster <file>', 'the signed roster note')
    .option('--trust-root <key>', "the association's verifier key (name+keyid+base64), to verify --roster")
    .option('--data-dir <dir>', 'use the roster held by this node instead')
    .action(async (file: string, opts: { roster?: string; trustRoot?: string; dataDir?: string }) => {
      let roster: Roster;
      if (opts.dataDir) {
        roster = await rosterFromDataDir(opts.dataDir);
      } else {
        if (!opts.roster || !opts.trustRoot) throw new AppError('invalid_input', 'give --roster and --trust-root, or --data-dir');
        const trustRoot = parseTrustRootKey(opts.trustRoot);
        const opened = openRoster(readText(opts.roster, 'roster'), trustRoot!);
        if (!opened.ok) throw new AppError('invalid_input', `roster does not verify against the trust root: ${opened.error}`);
        roster = opened.roster;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(readText(file, 'receipt file'));
      } catch (err) {
        if (err instanceof AppError) throw err;
        throw new AppError('invalid_input', `${file} is not valid JSON`);
      }
      const list = receiptsIn(parsed);
      if (list.length === 0) throw new AppError('invalid_input', `${file} holds no receipt`);
      const results = list.map((r, i) => {
        const verified = verifyReceipt(r, (member) => memberKeys(findMember(roster, member)));
        const id = (r as { listingId?: unknown } | null)?.listingId;
        return verified.ok
          ? { index: i, valid: true, listingId: id, origin: verified.entry.origin, kind: verified.entry.kind, time: verified.entry.time }
          : { index: i, valid: false, listingId: typeof id === 'string' ? id : null, error: verified.error };
      });
      printJson({ federation: roster.federation, rosterVersion: roster.version, receipts: results });
      const bad = results.find((r) => !r.valid);
      if (bad) throw new AppError('invalid_input', `receipt ${bad.index} is not valid: ${(bad as { error: string }).error}`);
    });
}
