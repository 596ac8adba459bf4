/**
 * `jointban import --relist` beside a running node (docs/OPERATIONS.md, "Epoch secrets"): the
 * command is another process writing the same SQLite file while the node takes listings over its
 * API. Both open their write transactions with `BEGIN IMMEDIATE` (store/database.ts), so neither
 * fails on the other's commits: no API request fails, every acknowledged listing is stored once,
 * every ban is relisted, and `jointban verify` passes on the result.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { initDataDir } from '../../src/init.js';
import { createLogger } from '../../src/logging.js';
import { createNode, type JointbanNode } from '../../src/node.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { editEpochs } from '../helpers/epochs.js';
import { listingBody } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/test-node.js';

const BANS = 200;
const phone = (n: number) => `+86 137 4444 ${String(n).padStart(4, '0')}`;

let dataDir: string | undefined;
let node: JointbanNode | undefined;

afterEach(async () => {
  await node?.stop();
  node = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

const start = (dir: string) => createNode(loadConfig(dir, {}), { logger: createLogger('silent') });

describe('relist beside a running node', () => {
  it('relists every ban while the node takes API listings: no failed request, every acknowledged listing stored once, verify passes', async () => {
    const dir = tempDir('jointban-relist-live-');
    dataDir = dir;
    await initDataDir({ dataDir: dir, member: 'alpha', port: 0, epochs: [{ epoch: 1, secret: randomBytes(32) }] });
    // The platform's bans, listed under epoch 1 before the rotation.
    node = await start(dir);
    await node.listings.createMany(
      Array.from({ length: BANS }, (_, n) => ({ identifiers: [{ type: 'phone' as const, value: phone(n) }], category: 'fraud', severity: 'severe', banUntil: null, reference: `ban-${n}` })),
    );
    await node.stop();
    // Epoch 2 added, the node restarted and serving.
    editEpochs(dir, (epochs) => [...epochs, { epoch: 2, secret: randomBytes(32).toString('hex') }]);
    node = await start(dir);
    const live = node;
    const url = await live.listen();
    const writeKey = (await live.keys.create('write', 'relist-live test')).key;

    const csv = join(dir, 'bans.csv');
    writeFileSync(csv, ['reference,category,ban_until,phone', ...Array.from({ length: BANS }, (_, n) => `ban-${n},fraud,,${phone(n)}`)].join('\n') + '\n');
    // Two clients list new bans from before the relist starts until it has finished. The relist
    // writes in transactions of 10 rows, so on a loaded machine too the clients' listings fall
    // between its first and last (one transaction of 200 could commit before any of theirs).
    let relist: Promise<CliResult> | undefined;
    let relistDone = false;
    const acknowledged = new Map<string, string>();
    const failures: string[] = [];
    let next = 0;
    const client = async () => {
      while (!relistDone) {
        const reference = `api-${next++}`;
        const res = await fetch(`${url}/v1/listings`, {
          method: 'POST',
          headers: { authorization: `Bearer ${writeKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(listingBody({ identifiers: [{ type: 'email', value: `${reference}@example.org` }], reference })),
        });
        const text = await res.text();
        if (res.status === 201) acknowledged.set(reference, (JSON.parse(text) as { id: string }).id);
        else failures.push(`${res.status} ${text}`);
        if (relist === undefined) {
          relist = runCli(['import', '--relist', '--batch-size', '10', '--data-dir', dir, csv]);
          void relist.finally(() => (relistDone = true));
        }
      }
    };
    await Promise.all([client(), client()]);
    const result = await relist!;
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ rows: BANS, relisted: BANS, current: 0, skipped: 0, rejected: 0 });
    expect(failures).toEqual([]);

    const db = live.database.db;
    // The two writers really interleaved: API listings sit between the relist's first and last entries.
    const own = await db.selectFrom('listings').select(['seq', 'reference', 'retraction_reason']).where('origin', '=', 'alpha').orderBy('seq').execute();
    const relistSeqs = own.filter((r) => r.reference?.startsWith('ban-') && r.seq > BANS).map((r) => r.seq);
    const between = own.filter((r) => r.reference?.startsWith('api-') && r.seq > Math.min(...relistSeqs) && r.seq < Math.max(...relistSeqs));
    expect(between.length).toBeGreaterThan(0);
    // Every acknowledged listing is stored once, under the id it was acknowledged with.
    const apiRows = own.filter((r) => r.reference?.startsWith('api-'));
    expect(apiRows).toHaveLength(acknowledged.size);
    for (const row of apiRows) expect(`alpha:${row.seq}`).toBe(acknowledged.get(row.reference!));
    // One active listing per ban, carrying both epochs; each old one retracted as relisted.
    const active = await db.selectFrom('listings').select('id').where('reference', 'like', 'ban-%').where('status', '=', 'active').execute();
    expect(active).toHaveLength(BANS);
    expect(own.filter((r) => r.retraction_reason === 'relisted')).toHaveLength(BANS);
    for (const n of [0, BANS - 1]) expect((await live.checks.check({ identifiers: [{ type: 'phone', value: phone(n) }] })).decision).toBe('deny');

    await live.stop();
    node = undefined;
    const verify = await runCli(['verify', '--data-dir', dir]);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
  }, 120_000);
});
