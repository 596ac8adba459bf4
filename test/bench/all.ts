/**
 * `npm run bench`: the whole suite, one part after another so no part measures another's load.
 *
 * 1. check — POST /v1/check against a bare hono echo, and the in-process figures (run.ts, in its
 *    own process tree; its flags pass through);
 * 2. bulk — sync ingest, bulk import and propagation (bulk-bench.ts);
 * 3. verify — `jointban verify` over a generated store (verify-bench.ts);
 * 4. durability — listing latency in durability mode local vs witnessed (durability-bench.ts);
 * 5. postgres — `jointban import` into a node on PostgreSQL vs a bare COPY of the same rows, on a
 *    throwaway cluster it starts itself; skipped with one line without PostgreSQL's binaries
 *    (postgres-import-bench.ts).
 *
 * `--only check,bulk,verify,durability,postgres` picks parts; `--quick` applies to all. Each part prints its table and
 * measures its own baselines in the same run; the figures of parts 2 to 5 go to
 * bench-results/bulk.json, verify.json, durability.json and postgres-import.json (run.ts writes
 * latest.json). Exits
 * non-zero when any part failed. See docs/BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatBulkResults, runBulkBench } from './bulk-bench.js';
import { formatVerifyBench, runVerifyBench } from './verify-bench.js';
import { formatDurabilityBench, runDurabilityBench } from './durability-bench.js';
import { formatPostgresImportBench, runPostgresImportBench } from './postgres-import-bench.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PARTS = ['check', 'bulk', 'verify', 'durability', 'postgres'] as const;
type Part = (typeof PARTS)[number];

function parseParts(args: string[]): { parts: Part[]; rest: string[] } {
  const rest: string[] = [];
  let parts: Part[] = [...PARTS];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = arg === '--only' ? args[++i] : arg.startsWith('--only=') ? arg.slice('--only='.length) : undefined;
    if (value === undefined && arg !== '--only') {
      rest.push(arg);
      continue;
    }
    const named = (value ?? '').split(',').filter((p) => p !== '');
    const unknown = named.filter((p) => !(PARTS as readonly string[]).includes(p));
    if (named.length === 0 || unknown.length > 0) throw new Error(`--only: give some of ${PARTS.join(', ')}, not ${JSON.stringify(value ?? '')}`);
    parts = named as Part[];
  }
  return { parts, rest };
}

async function main(): Promise<number> {
  const { parts, rest } = parseParts(process.argv.slice(2));
  const quick = rest.includes('--quick');
  const outDir = join(ROOT, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  let failed = 0;
  if (parts.includes('check')) {
    const run = spawnSync(process.execPath, [fileURLToPath(new URL('./run.js', import.meta.url)), ...rest], { stdio: 'inherit' });
    if (run.status !== 0) failed++;
  } else if (rest.some((a) => a !== '--quick')) {
    throw new Error(`options other than --quick and --only belong to the check part: ${rest.join(' ')}`);
  }
  if (parts.includes('bulk')) {
    const bulk = await runBulkBench({ quick });
    writeFileSync(join(outDir, 'bulk.json'), `${JSON.stringify(bulk, null, 2)}\n`);
    process.stdout.write(`\n${formatBulkResults(bulk)}\n`);
  }
  if (parts.includes('verify')) {
    const verify = await runVerifyBench({ quick });
    writeFileSync(join(outDir, 'verify.json'), `${JSON.stringify(verify, null, 2)}\n`);
    process.stdout.write(`\n${formatVerifyBench(verify)}\n`);
  }
  if (parts.includes('durability')) {
    const durability = await runDurabilityBench({ quick });
    writeFileSync(join(outDir, 'durability.json'), `${JSON.stringify(durability, null, 2)}\n`);
    process.stdout.write(`\n${formatDurabilityBench(durability)}\n`);
  }
  if (parts.includes('postgres')) {
    const postgres = await runPostgresImportBench({ quick });
    writeFileSync(join(outDir, 'postgres-import.json'), `${JSON.stringify(postgres, null, 2)}\n`);
    process.stdout.write(`\n${formatPostgresImportBench(postgres)}\n`);
  }
  return failed === 0 ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench: failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
