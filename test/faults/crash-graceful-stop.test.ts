/**
 * A graceful stop (SIGTERM to `jointban start`) with a listing still in flight: the request is
 * answered 201, the process exits 0, and the listing is covered by a signed checkpoint before the
 * process is gone, so peers can have it without waiting for a restart that may never come.
 *
 * Regression: the node used to stop its federation part (the checkpoint signer) before closing its
 * HTTP server, so a write acknowledged during the shutdown stayed unsigned until the next start.
 * The request here is held open (half its body sent) across the SIGTERM to make the race certain.
 */
import { request } from 'node:http';
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { initDataDir } from '../../src/init.js';
import { childNode, type ChildNode } from '../helpers/child-node.js';
import { waitFor } from '../helpers/federation.js';
import { listingBody, paymentAccount } from '../helpers/fixtures.js';
import { TEST_EPOCH_SECRET, tempDir } from '../helpers/test-node.js';

let child: ChildNode | undefined;
let dir: string | undefined;
afterEach(async () => {
  await child?.dispose();
  child = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('SIGTERM with a listing in flight', () => {
  it('answers it 201, exits 0 and leaves it covered by a signed checkpoint', { timeout: 90_000 }, async () => {
    dir = tempDir('jointban-graceful-');
    // Checkpoints are batched over 60 s: only the shutdown can sign the listing in time.
    const init = await initDataDir({
      dataDir: dir,
      member: 'alpha',
      port: await freePort(),
      epochs: [{ epoch: 1, secret: TEST_EPOCH_SECRET }],
      extra: { checkpoints: { intervalMs: 60_000 }, logging: { level: 'warn' } },
    });
    const node = childNode({ dataDir: dir });
    child = node;
    await node.start();

    const body = Buffer.from(JSON.stringify(listingBody({ identifiers: [paymentAccount('alipay:graceful-1')] })));
    const u = new URL(node.url);
    let headersSent = false;
    let finish: (() => void) | undefined;
    const answered = new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: '/v1/listings',
          method: 'POST',
          headers: { authorization: `Bearer ${init.adminKey}`, 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, 16), () => (headersSent = true));
      finish = () => req.end(body.subarray(16));
    });
    await waitFor(() => headersSent, { message: 'the first half of the request to be sent' });

    const stopped = node.stop();
    // The process has begun its shutdown (it no longer reports ready) while the request is open.
    await waitFor(
      async () => {
        const res = await fetch(`${node.url}/readyz`).catch(() => undefined);
        return res === undefined || res.status === 503;
      },
      { message: 'alpha to start shutting down' },
    );
    finish!();
    expect(await answered, 'the in-flight listing is acknowledged').toBe(201);
    expect(await stopped, `SIGTERM exits cleanly:\n${node.output()}`).toEqual({ code: 0, signal: null });

    const db = new SQLite(loadConfig(dir, {}).databaseFile, { readonly: true, fileMustExist: true });
    try {
      const size = (db.prepare("SELECT coalesce(max(seq), 0) AS n FROM log_entries WHERE origin = 'alpha'").get() as { n: number }).n;
      const signed = (db.prepare("SELECT coalesce(max(size), -1) AS n FROM checkpoints WHERE origin = 'alpha'").get() as { n: number }).n;
      expect(size, 'the listing is in the log').toBe(1);
      expect(signed, 'the latest checkpoint covers it').toBe(1);
    } finally {
      db.close();
    }
  });
});
