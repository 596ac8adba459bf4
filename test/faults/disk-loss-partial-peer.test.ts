/**
 * A restored node and a peer that holds entries of its log beyond the checkpoint it serves (a pull
 * that stopped after a page: ingest.ts commits page by page). Those positions have been seen, so
 * the restored node waits for that peer (shown in `heldBeyondCheckpoint`) and takes writes again
 * only once it has them back, proven, from a node that holds a checkpoint covering them
 * (docs/OPERATIONS.md, "Losing a node's disk"). The claim is unprovable, so unlike a signed
 * checkpoint it does not forbid `--abandon-recovery`.
 */
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { createNode, type JointbanNode } from '../../src/node.js';
import { addMember } from '../../src/roster/index.js';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import { LogReader } from '../../src/store/log-repository.js';
import { runCli } from '../helpers/cli.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { HostilePeer } from '../helpers/hostile-peer.js';
import { paymentAccount, type Identifier } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/test-node.js';

let fed: TestFederation | undefined;
let gamma: HostilePeer | undefined;
let restored: JointbanNode | undefined;
let work: string | undefined;
const ids = (label: string): Identifier[] => [paymentAccount(`alipay:partial-peer-${label}`)];

afterAll(async () => {
  await restored?.stop();
  await fed?.stop();
  await gamma?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a peer holding entries beyond the checkpoint it serves', () => {
  it('waits for them: no writes until they come back proven', { timeout: 90_000 }, async () => {
    gamma = await HostilePeer.start('gamma');
    const g = gamma;
    fed = await createFederation(1);
    const f = fed;
    await f.updateRoster((draft, now) => {
      const added = addMember(draft, g.member, now);
      if (!added.ok) throw new Error(added.error);
      return added.draft;
    });
    work = tempDir('jointban-partial-peer-');
    const alpha = f.get('alpha');
    for (const label of ['a1', 'a2']) await f.list('alpha', ids(label));
    const backupFile = join(work, 'alpha.db');
    expect((await runCli(['backup', '--data-dir', alpha.dataDir, '--to', backupFile])).code).toBe(0);
    for (const label of ['a3', 'a4']) await f.list('alpha', ids(label));
    await waitFor(async () => (await new CheckpointRepository(f.association.node.database.db).latest('alpha'))?.size === 4, { message: 'the association to hold alpha:1…4 under a checkpoint' });

    // gamma serves alpha's checkpoint at 2 and holds entry 3 beyond it.
    const reader = new LogReader(alpha.node.database.db);
    const bytes = await Promise.all([1, 2, 3].map(async (seq) => (await reader.entry('alpha', seq))!.bytes));
    const at2 = await new CheckpointRepository(alpha.node.database.db).atSize('alpha', 2);
    g.checkpoints = [{ origin: 'alpha', size: 2, note: at2!.note }];
    g.logs.set('alpha', { entries: bytes });
    await f.stopNode('alpha');
    await f.stopNode(f.association);

    const dir = join(work, 'restored');
    mkdirSync(dir, { mode: 0o700 });
    cpSync(join(alpha.dataDir, CONFIG_FILE_NAME), join(dir, CONFIG_FILE_NAME));
    cpSync(join(alpha.dataDir, 'keys'), join(dir, 'keys'), { recursive: true });
    expect((await runCli(['restore', '--from', backupFile, '--data-dir', dir])).code).toBe(0);
    restored = await createNode(loadConfig(dir, {}), { logger: createLogger('silent') });
    const node = restored;
    await node.listen();
    const status = await waitFor(
      async () => {
        const s = (await node.federation.status()).ownLogRecovery;
        return s?.heldBeyondCheckpoint.gamma === 3 ? s : undefined;
      },
      { message: "the recovery to see gamma's entry beyond its checkpoint" },
    );
    expect(status).toMatchObject({ size: 2, knownSize: 2 });
    expect(status.waitingFor).toContain('gamma');
    expect(status.answered).not.toContain('gamma');
    await expect(node.listings.create({ identifiers: ids('x'), category: 'fraud', severity: 'severe', banUntil: null })).rejects.toThrow(/restored from a backup/);

    // The association holds them under a cosigned checkpoint: once back, the log is recovered to 4,
    // gamma holds nothing beyond that, and writes go on at alpha:5.
    await f.startNode(f.association);
    await waitFor(async () => (await node.federation.status()).ownLogRecovery === null, { message: 'the own log to be recovered' });
    expect(await new LogReader(node.database.db).size('alpha')).toBe(4);
    const created = await node.listings.create({ identifiers: ids('a5'), category: 'fraud', severity: 'severe', banUntil: null });
    expect(created.id).toBe('alpha:5');
  });
});
