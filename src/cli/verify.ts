/**
 * `jointban verify --data-dir DIR [--json] [--require-cosignatures]`: re-verifies every log the
 * node holds from the first entry (src/audit/verify.ts) and prints a summary per origin. Keys come
 * from the roster the node holds, itself verified against the configured trust root first; the
 * witness is the roster's association. A node that holds no roster yet can still have its own log
 * checked, with the public key of its own signing key. The database is opened read-only, so
 * verifying a running node's data is safe. Any failure exits 1.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { verifyStore, type OriginVerification, type VerifyStoreOptions } from '../audit/verify.js';
import type { NodeConfig } from '../config/load.js';
import { AppError } from '../errors.js';
import { witnessOf } from '../roster/witness.js';
import { openDatabase, type DatabaseHandle } from '../store/database.js';
import { readKeyFile } from '../store/key-file.js';
import { heldRoster } from './held-roster.js';
import { configWithoutSecrets, printJson } from './options.js';

interface VerifyOptions {
  dataDir: string;
  json?: boolean;
  requireCosignatures?: boolean;
}

/** Failures printed per origin in the text summary (--json lists up to MAX_REPORTED_FAILURES). */
const SHOWN_FAILURES = 5;

export interface Keys {
  options: VerifyStoreOptions;
  rosterVersion: number | null;
}

/** The roster the node holds, verified against the trust root, or the node's own key without one. */
async function keysFor(config: NodeConfig, handle: DatabaseHandle, requireCosignatures: boolean): Promise<Keys> {
  const roster = await heldRoster(config, handle.db);
  if (roster === undefined) {
    const { publicKey } = readKeyFile(config.signingKeyFile);
    return { options: { federation: config.federation, roster: undefined, self: { member: config.member, publicKey }, requireCosignatures }, rosterVersion: null };
  }
  const witness = witnessOf(roster);
  return {
    options: { federation: config.federation, roster, ...(witness ? { witness } : {}), requireCosignatures },
    rosterVersion: roster.version,
  };
}

/** A progress line on a terminal, at most once a second, overwritten in place. */
function progressReporter(): { update(origin: string, verified: number, total: number): void; done(): void } {
  if (!process.stderr.isTTY) return { update: () => undefined, done: () => undefined };
  let last = Date.now();
  let shown = false;
  return {
    update(origin, verified, total) {
      if (Date.now() - last < 1000) return;
      last = Date.now();
      shown = true;
      process.stderr.write(`\rverifying ${origin}: ${verified.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} entries`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

const count = (n: number, noun: string, plural = `${noun}s`) => `${n} ${n === 1 ? noun : plural}`;

function originLine(r: OriginVerification): string {
  const counts = `${count(r.entries, 'entry', 'entries')}, ${count(r.checkpoints, 'checkpoint')} (${r.cosignedCheckpoints} cosigned)`;
  return `${r.origin.padEnd(16)} ${r.ok ? 'OK    ' : 'FAILED'}  ${counts}${r.ok ? '' : `, ${count(r.failureCount, 'failure')}`}`;
}

function printText(keys: Keys, results: OriginVerification[], seconds: number): void {
  const { options } = keys;
  const lines: string[] = [];
  lines.push(
    keys.rosterVersion === null
      ? `federation ${options.federation}: this node holds no roster, so only its own log (${options.self?.member ?? '?'}) is verified, with its own key`
      : `federation ${options.federation}, roster version ${keys.rosterVersion}, witness ${options.witness?.name ?? 'none'}`,
  );
  if (results.length === 0) lines.push('this node holds no log yet');
  for (const r of results) {
    lines.push(originLine(r));
    for (const f of r.failures.slice(0, SHOWN_FAILURES)) {
      const where = f.index !== undefined ? ` at index ${f.index}` : f.size !== undefined ? ` at size ${f.size}` : '';
      lines.push(`  ${f.kind}${where}: ${f.message}`);
    }
    if (r.failureCount > SHOWN_FAILURES) lines.push(`  … and ${r.failureCount - SHOWN_FAILURES} more (--json lists the first ${r.failures.length})`);
    for (const w of r.warnings) lines.push(`  warning: ${w}`);
  }
  const entries = results.reduce((n, r) => n + r.entries, 0);
  lines.push(`verified ${count(results.length, 'log')}, ${count(entries, 'entry', 'entries')} in ${seconds.toFixed(2)} s`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

export interface DataDirVerification {
  config: NodeConfig;
  keys: Keys;
  results: OriginVerification[];
  seconds: number;
}

/** Verifies the logs of a node's data directory, as the command does, without printing. */
export async function verifyDataDir(dataDir: string, options: { requireCosignatures?: boolean } = {}): Promise<DataDirVerification> {
  const config = configWithoutSecrets(resolve(dataDir));
  const started = performance.now();
  const handle = await openDatabase({ driver: 'sqlite', file: config.databaseFile, readonly: true });
  try {
    const keys = await keysFor(config, handle, options.requireCosignatures === true);
    const progress = progressReporter();
    try {
      const results = await verifyStore(handle, keys.options, (p) => progress.update(p.origin, p.verified, p.total));
      return { config, keys, results, seconds: (performance.now() - started) / 1000 };
    } finally {
      progress.done();
    }
  } finally {
    await handle.close();
  }
}

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('re-verify every log this node holds from the first entry: entries, Merkle nodes, signed checkpoints, cosignatures, roster membership and the listings projection')
    .requiredOption('--data-dir <dir>', 'the data directory of the node')
    .option('--json', 'print the results as JSON')
    .option('--require-cosignatures', 'a checkpoint without a witness cosignature is a failure, not a warning')
    .action(async (opts: VerifyOptions) => {
      const requireCosignatures = opts.requireCosignatures === true;
      const { config, keys, results, seconds } = await verifyDataDir(opts.dataDir, { requireCosignatures });
      if (opts.json) {
        printJson({
          federation: config.federation,
          member: config.member,
          rosterVersion: keys.rosterVersion,
          witness: keys.options.witness?.name ?? null,
          requireCosignatures,
          ok: results.every((r) => r.ok),
          origins: results,
        });
      } else {
        printText(keys, results, seconds);
      }
      const failed = results.filter((r) => !r.ok).map((r) => r.origin);
      if (failed.length > 0) throw new AppError('invalid_input', `verification failed for ${failed.join(', ')}`);
    });
}
