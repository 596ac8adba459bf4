/**
 * A node started on an old copy of its database that `jointban restore` did not mark (copied into
 * place by hand): at start it reads its peers' checkpoints of its own log, finds one it signed
 * beyond what it holds, marks itself (`peer_ahead`) and fetches its log back before it appends,
 * so the next listing takes the next free id and nobody records a fork (docs/OPERATIONS.md,
 * "Losing a node's disk"). A listing sent while the peers have not answered yet is refused (503
 * `recovering`), not written at an id a peer has already seen.
 */
import { copyFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { createNode, type JointbanNode } from '../../src/node.js';
import { OWN_LOG_RECOVERY_PROGRESS } from '../../src/federation/own-log-recovery.js';
import { LogReader } from '../../src/store/log-repository.js';
import { runCli } from '../helpers/cli.js';
import { gateCheckpointLists } from '../helpers/checkpoint-gate.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { listingBody, paymentAccount, type Identifier } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/test-node.js';

let fed: TestFederation | undefined;
let copied: JointbanNode | undefined;
let work: string | undefined;
/** Lets the held start-up comparison go on (also when the test failed before it did). */
let release: () => void = () => undefined;
const ids = (label: string): Identifier[] => [paymentAccount(`alipay:unmarked-${label}`)];

afterAll(async () => {
  release();
  await copied?.stop();
  await fed?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a node started on an old database copied into place by hand', () => {
  it('notices that a peer holds more of its log, refuses writes, and recovers before it appends', { timeout: 90_000 }, async () => {
    fed = await createFederation(1);
    const f = fed;
    const alpha = f.get('alpha');
    work = tempDir('jointban-unmarked-');
    for (const label of ['a1', 'a2']) await f.list('alpha', ids(label));
    const backupFile = join(work, 'alpha.db');
    expect((await runCli(['backup', '--data-dir', alpha.dataDir, '--to', backupFile])).code).toBe(0);
    await f.list('alpha', ids('a3'));
    await waitFor(async () => (await f.logSize(f.association, 'alpha')) === 3, { message: 'the association to mirror alpha:3' });
    await f.stopNode('alpha');

    const dir = join(work, 'copied');
    mkdirSync(dir, { mode: 0o700 });
    cpSync(join(alpha.dataDir, CONFIG_FILE_NAME), join(dir, CONFIG_FILE_NAME));
    cpSync(join(alpha.dataDir, 'keys'), join(dir, 'keys'), { recursive: true });
    const config = loadConfig(dir, {});
    copyFileSync(backupFile, config.databaseFile);
    copied = await createNode(config, { logger: createLogger('silent') });
    const node = copied;
    // The association answers the start-up comparison only once the test has tried a write: a slow
    // network, made deterministic.
    release = gateCheckpointLists(node);
    const listening = node.listen();
    const url = await waitFor(() => node.url, { message: 'the node to listen' });
    const post = (label: string) =>
      fetch(`${url}/v1/listings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alpha.writeKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(listingBody({ identifiers: ids(label) })),
      });
    const early = await post('early');
    expect(early.status).toBe(503);
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe('recovering');
    // Checks are not held.
    const check = await fetch(`${url}/v1/check`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alpha.checkKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ identifiers: ids('a1') }),
    });
    expect(check.status).toBe(200);
    expect(await new LogReader(node.database.db).size('alpha')).toBe(2);
    release();
    await listening;
    // It held 2 entries at start; the association's checkpoint says 3: the mark is set (or the
    // recovery already ran and lifted it, which the progress record it leaves behind shows).
    await waitFor(
      async () =>
        (await node.federation.status()).ownLogRecovery?.reason === 'peer_ahead' ||
        (await node.database.db.selectFrom('node_meta').select('key').where('key', '=', OWN_LOG_RECOVERY_PROGRESS).executeTakeFirst()),
      {
        message: 'the node to notice it is behind',
      },
    );
    await waitFor(async () => (await node.federation.status()).ownLogRecovery === null && (await new LogReader(node.database.db).size('alpha')) === 3, {
      message: 'the own log to be fetched back',
    });
    const after = await post('after');
    expect(after.status).toBe(201);
    expect(((await after.json()) as { id: string }).id).toBe('alpha:4');
    await waitFor(async () => (await f.logSize(f.association, 'alpha')) === 4, { message: 'the association to take alpha:4 as the continuation' });
    expect((await f.status(f.association)).misbehaviour).toEqual([]);
  });
});
