/**
 * Own-log recovery's one request of its own (whether a peer holds entries of the own log beyond
 * the checkpoint it serves) takes the sync loop's lifetime signal, so the federation's stop, which
 * aborts that signal, cuts it (docs/SECURITY.md, "A trickling peer"). The peer here answers never:
 * only the signal can end the request, and the recovery's stop waits for it.
 */
import { afterEach, expect, it } from 'vitest';
import { OwnLogRecovery, markOwnLogRecovery } from '../../src/federation/own-log-recovery.js';
import { createLogger } from '../../src/logging.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';
import { waitFor } from '../helpers/federation.js';
import { sampleRoster } from '../unit/roster/fixtures.js';

let t: TestNode | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

it("own-log recovery's request to a peer that never answers ends when the sync loop's signal aborts, and stop() returns", async () => {
  t = await createTestNode({ listen: false, member: 'alpha' });
  const db = t.node.database.db;
  await markOwnLogRecovery(db, { since: new Date().toISOString(), reason: 'restore' });
  const lifetime = new AbortController();
  const asked: (AbortSignal | undefined)[] = [];
  const recovery = new OwnLogRecovery({
    db,
    self: 'alpha',
    roster: () => sampleRoster(),
    // The peer serves no checkpoint of alpha's log; the probe beyond it hangs until aborted.
    sync: {
      checkpointsOf: async () => [],
      ingestorFor: () => {
        throw new Error('no ingest expected');
      },
      signal: lifetime.signal,
    },
    client: {
      get: (_endpoint, _path, _query, signal) => {
        asked.push(signal);
        return new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
      },
    },
    pollIntervalMs: 60_000,
    startupCheckMs: 1_000,
    logger: createLogger('silent'),
    onExtended: () => undefined,
  });
  await recovery.load();
  recovery.start();
  await waitFor(() => asked.length > 0, { message: 'the recovery probing a peer' });
  expect(asked[0]).toBe(lifetime.signal);
  const stopped = recovery.stop();
  lifetime.abort();
  await stopped;
  expect(await recovery.status()).toMatchObject({ answered: [] });
});
