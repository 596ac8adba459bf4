/**
 * `jointban import` runs in its own process next to the node; its progress shows on the node's
 * `GET /metrics` (jobs/import-status.ts): written by the CLI to the database, read at scrape.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IMPORT_STALE_MS, importRunning, readImportStatus, IMPORT_STATUS_KEY } from '../../src/jobs/import-status.js';
import { NodeMetaRepository } from '../../src/store/node-meta-repository.js';
import { CLI, ROOT, runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/federation.js';
import { createTestNode, tempDir, type TestNode } from '../helpers/test-node.js';

const HEADER = 'reference,category,ban_until,phone';
const phoneOf = (i: number) => `1395500${String(i).padStart(4, '0')}`;

let t: TestNode;
let work: string;

beforeEach(async () => {
  t = await createTestNode();
  work = tempDir('jointban-import-metrics-');
});
afterEach(async () => {
  await t.stop();
  rmSync(work, { recursive: true, force: true });
});

async function metrics(): Promise<string> {
  const res = await t.request('GET', '/metrics', { key: t.adminKey });
  expect(res.status).toBe(200);
  return res.text();
}

const gauge = (text: string, line: string): number | undefined => {
  const m = new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

describe('import progress on GET /metrics', () => {
  it('shows nothing before any import', async () => {
    const text = await metrics();
    expect(text).not.toMatch(/^jointban_import_rows\{/m);
    expect(gauge(text, 'jointban_import_running')).toBe(0);
  });

  it('shows the totals and times of an import that ran next to the running node', async () => {
    const file = join(work, 'bans.csv');
    writeFileSync(file, [HEADER, `u-1,fraud,,${phoneOf(1)}`, `u-2,fraud,,${phoneOf(2)}`, 'u-3,fraud,,1395501', `u-1,fraud,,${phoneOf(4)}`, ''].join('\n'));
    const result = await runCli(['import', '--data-dir', t.dataDir, file]);
    expect(result.code, result.stderr).toBe(0);

    const text = await metrics();
    expect(gauge(text, 'jointban_import_rows{outcome="read"}')).toBe(4);
    expect(gauge(text, 'jointban_import_rows{outcome="listed"}')).toBe(2);
    expect(gauge(text, 'jointban_import_rows{outcome="skipped"}')).toBe(1);
    expect(gauge(text, 'jointban_import_rows{outcome="rejected"}')).toBe(1);
    expect(gauge(text, 'jointban_import_running')).toBe(0);
    const started = gauge(text, 'jointban_import_timestamp_seconds{event="started"}')!;
    const finished = gauge(text, 'jointban_import_timestamp_seconds{event="finished"}')!;
    expect(started).toBeGreaterThan(0);
    expect(finished).toBeGreaterThanOrEqual(started);
    // Counts and times only: nothing of the file.
    expect(text).not.toContain(phoneOf(1));
    expect(text).not.toContain('u-1');
  });

  it('counts an import as running while it reads, and no longer once it ends', async () => {
    const child = spawn(process.execPath, [CLI, 'import', '--data-dir', t.dataDir, '-', '--format', 'csv', '--rejects', join(work, 'r.csv'), '--batch-size', '1'], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
    let sent = 0;
    try {
      // The header and first row are read before the data directory is opened (a bad header fails
      // before anything is written), and the CSV parser hands on a row once the next one begins.
      child.stdin.write(`${HEADER}\nu-0,fraud,,${phoneOf(0)}\nu-1,fraud,,${phoneOf(1)}\n`);
      sent = 2;
      await waitFor(async () => gauge(await metrics(), 'jointban_import_running') === 1, { message: 'the import to show as running', timeoutMs: 20_000 });
      // Totals are written between batches, at most every couple of seconds: feed a row (a batch)
      // on each look until some show as listed.
      await waitFor(
        async () => {
          child.stdin.write(`u-${sent},fraud,,${phoneOf(sent)}\n`);
          sent++;
          return (gauge(await metrics(), 'jointban_import_rows{outcome="listed"}') ?? 0) > 0;
        },
        { message: 'rows to show as listed', timeoutMs: 20_000, intervalMs: 200 },
      );
      expect(gauge(await metrics(), 'jointban_import_running')).toBe(1);
      child.stdin.end();
      expect(await closed).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    const text = await metrics();
    expect(gauge(text, 'jointban_import_running')).toBe(0);
    expect(gauge(text, 'jointban_import_rows{outcome="listed"}')).toBe(sent);
  });
});

describe('the stored status', () => {
  it('is ignored when it is not what the import writes', async () => {
    const repo = new NodeMetaRepository(t.node.database.db);
    for (const junk of ['not json', '{"rows":-1}', JSON.stringify({ rows: 1, listed: 1, skipped: 0, rejected: 0, startedAt: 'yesterday', updatedAt: 'now', finishedAt: null })]) {
      await repo.put(IMPORT_STATUS_KEY, junk);
      expect(await readImportStatus(repo)).toBeUndefined();
    }
    expect((await metrics()).match(/^jointban_import_rows\{/m)).toBeNull();
  });

  it('stops counting as running when the import stopped reporting (killed)', async () => {
    const at = new Date('2026-01-01T00:00:00.000Z');
    const status = { rows: 5, listed: 5, skipped: 0, rejected: 0, startedAt: at.toISOString(), updatedAt: at.toISOString(), finishedAt: null, interrupted: false };
    expect(importRunning(status, new Date(at.getTime() + IMPORT_STALE_MS - 1))).toBe(true);
    expect(importRunning(status, new Date(at.getTime() + IMPORT_STALE_MS))).toBe(false);
    expect(importRunning({ ...status, finishedAt: at.toISOString() }, at)).toBe(false);
  });
});
