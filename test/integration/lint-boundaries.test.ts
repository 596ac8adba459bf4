/**
 * The import boundaries of config/biome.jsonc (README, Project layout) bite: Biome, run with the
 * repository's own config on a scratch tree of one file per layer, flags exactly the imports that
 * climb a layer (or reach @noble/* outside src/crypto, a database driver outside its engine's
 * folder, src/store/sqlite or src/store/postgres, the CLI from outside it, or a store file from the
 * CLI, which goes through src/context.ts) and none that go down. And the repository's src/ breaks
 * none of them, so `npm test` fails on a new upward import even where `npm run lint` is not run.
 *
 * Biome is the dev dependency `@biomejs/biome`; JOINTBAN_BIOME=PATH runs another binary.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const RULE = 'lint/style/noRestrictedImports';

function biomeBinary(): string {
  const fromEnv = process.env['JOINTBAN_BIOME'];
  if (fromEnv) return fromEnv;
  const require = createRequire(join(ROOT, 'package.json'));
  try {
    return join(dirname(require.resolve('@biomejs/biome/package.json')), 'bin', 'biome');
  } catch {
    throw new Error('@biomejs/biome is not installed: run npm ci (it is a dev dependency), or set JOINTBAN_BIOME to a biome binary');
  }
}

/** `file:line` of every import Biome refused, relative to `cwd`. */
function refusedImports(cwd: string, paths: string[]): string[] {
  const run = spawnSync(biomeBinary(), ['lint', '--config-path', join(cwd, 'config'), '--vcs-enabled=false', '--reporter=github', `--only=${RULE.slice('lint/'.length)}`, ...paths], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.error) throw run.error;
  const found: string[] = [];
  for (const match of run.stdout.matchAll(/^::error title=([^,]+),file=([^,]+),line=(\d+),/gm)) {
    if (match[1] === RULE) found.push(`${relative(cwd, match[2]!)}:${match[3]}`);
  }
  // A run that found nothing must have succeeded: a broken config also prints no diagnostics.
  if (found.length === 0) expect(run.status, run.stdout + run.stderr).toBe(0);
  return found.sort();
}

/**
 * One scratch file per layer: each line one import, marked `bad` when the layering forbids it.
 * The specifiers need not exist: the rule reads them as written.
 */
const FIXTURES: Record<string, [specifier: string, bad: boolean][]> = {
  'src/common/limit.ts': [
    ['node:http', false],
    ['./csv.js', false],
    ['../errors.js', true],
    ['../store/database.js', true],
  ],
  'src/crypto/wrap.ts': [
    ['@noble/ed25519', false],
    ['./encoding.js', false],
    ['../config/load.js', true],
    ['../common/bounded-fetch.js', true],
    ['../log/merkle.js', true],
    ['../identifiers/types.js', true],
  ],
  'src/identifiers/x.ts': [
    ['../crypto/index.js', false],
    ['./types.js', false],
    ['../store/database.js', true],
    ['../logging.js', true],
    ['@noble/hashes/sha2.js', true],
    ['../durable-file.js', true],
  ],
  'src/log/x.ts': [
    ['../identifiers/types.js', false],
    ['../federation/sync.js', true],
    ['../cli/main.js', true],
  ],
  'src/config/x.ts': [
    ['../policy/index.js', false],
    ['../errors.js', false],
    ['../store/database.js', true],
  ],
  'src/store/x.ts': [
    ['../log/entry.js', false],
    ['../config/load.js', false],
    ['../common/csv.js', false],
    ['./tables.js', false],
    ['./sqlite/bulk-append.js', false],
    ['better-sqlite3', true],
    ['pg', true],
    ['pg-copy-streams', true],
    ['../service/api-keys.js', true],
    ['../jobs/import.js', true],
    ['../context.js', true],
    ['../node.js', true],
  ],
  'src/store/sqlite/x.ts': [
    ['better-sqlite3', false],
    ['../tables.js', false],
    ['../../errors.js', false],
    ['pg', true],
    ['../../service/api-keys.js', true],
    ['../../cli/main.js', true],
  ],
  'src/store/postgres/x.ts': [
    ['pg', false],
    ['pg-copy-streams', false],
    ['../log-batch-reader.js', false],
    ['better-sqlite3', true],
    ['../../federation/sync.js', true],
  ],
  'src/service/x.ts': [
    ['../store/tables.js', false],
    ['../jobs/import.js', false],
    ['../common/rate-limiter.js', false],
    ['../federation/federation.js', true],
    ['../audit/statistics.js', true],
    ['../metrics.js', true],
    ['better-sqlite3', true],
  ],
  'src/jobs/x.ts': [
    ['../service/tokenizer.js', false],
    ['../api/app.js', true],
    ['../cli/import.js', true],
  ],
  'src/federation/x.ts': [
    ['../service/api-keys.js', false],
    ['../store/log-repository.js', false],
    ['../audit/verify.js', true],
    ['../api/errors.js', true],
  ],
  'src/audit/x.ts': [
    ['../federation/held-epochs.js', false],
    ['../service/check-counter.js', false],
    ['../store/log-batch-reader.js', false],
    ['../api/dashboard/routes.js', true],
    ['../node.js', true],
    ['better-sqlite3', true],
    ['pg', true],
  ],
  'src/api/dashboard/x.tsx': [
    ['../env.js', false],
    ['../../audit/report-csv.js', false],
    ['../../metrics.js', false],
    ['../../context.js', true],
    ['../../demo/local-federation.js', true],
    ['../../cli/options.js', true],
  ],
  'src/context.ts': [
    ['./api/app.js', false],
    ['./jobs/import.js', false],
    ['./cli/main.js', true],
    ['@noble/hashes/utils.js', true],
  ],
  'src/errors.ts': [
    ['node:util', false],
    ['./store/database.js', true],
    ['./config/package-root.js', false],
    ['./service/listings.js', true],
    ['./context.js', true],
  ],
  'src/demo/x.ts': [
    ['../node.js', false],
    ['../cli/demo.js', true],
  ],
  'src/cli/x.ts': [
    ['../context.js', false],
    ['../demo/local-federation.js', false],
    ['@noble/ed25519', true],
    ['pg-copy-streams', true],
    ['../store/database.js', true],
    ['../jobs/import.js', false],
    ['../store/listing-repository.js', true],
  ],
};

describe('the import boundaries (config/biome.jsonc)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'jointban-lint-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('refuse exactly the imports that climb a layer, on a tree of one file per layer', () => {
    mkdirSync(join(scratch, 'config'));
    copyFileSync(join(ROOT, 'config', 'biome.jsonc'), join(scratch, 'config', 'biome.jsonc'));
    const expected: string[] = [];
    for (const [file, imports] of Object.entries(FIXTURES)) {
      mkdirSync(dirname(join(scratch, file)), { recursive: true });
      // A type-only import is refused like a value import: the layering is about knowledge.
      const lines = imports.map(([specifier], i) => (i % 2 === 0 ? `import { v${i} } from '${specifier}';` : `import type { T${i} } from '${specifier}';`));
      writeFileSync(join(scratch, file), `${lines.join('\n')}\n`);
      imports.forEach(([, bad], i) => {
        if (bad) expected.push(`${file}:${i + 1}`);
      });
    }
    expect(refusedImports(scratch, ['src'])).toEqual(expected.sort());
  });

  it('are kept by the repository', () => {
    expect(refusedImports(ROOT, ['src'])).toEqual([]);
  });
});
