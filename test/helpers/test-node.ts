/**
 * Real nodes for tests: a temp data directory, a real SQLite file (or a fresh PostgreSQL database
 * when the run's engine is PostgreSQL, test/helpers/engine.ts), an ephemeral port, logs
 * captured in memory (so tests can assert what was and was not logged), torn down afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigFile } from '../../src/config/schema.js';
import { initDataDir } from '../../src/init.js';
import { createLogger } from '../../src/logging.js';
import { createNode, type JointbanNode } from '../../src/node.js';
import type { Scope } from '../../src/service/api-keys.js';
import { testDatabaseSection } from './engine.js';

export const TEST_EPOCH_SECRET = new Uint8Array(32).fill(7);

export interface TestNode {
  node: JointbanNode;
  url: string;
  dataDir: string;
  adminKey: string;
  /** Everything the node logged, as text. */
  logs(): string;
  /** Creates an API key of the given scope. */
  key(scope: Scope): Promise<string>;
  /** fetch() against the node with a bearer key and a JSON body. */
  request(method: string, path: string, opts?: { key?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  /** Stops the node but keeps its data directory, to inspect it or open it again. */
  close(): Promise<void>;
  /** Stops the node (if still running) and removes its data directory. */
  stop(): Promise<void>;
}

export function tempDir(prefix = 'jointban-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestNodeOptions {
  member?: string;
  now?: () => Date;
  extra?: Partial<ConfigFile>;
  /** Leave the node unstarted (no HTTP listener); `url` is then empty. */
  listen?: boolean;
}

export async function createTestNode(options: TestNodeOptions = {}): Promise<TestNode> {
  const dataDir = tempDir();
  const storage = await testDatabaseSection();
  const init = await initDataDir({
    dataDir,
    member: options.member ?? 'alpha',
    port: 0,
    epochs: [{ epoch: 1, secret: TEST_EPOCH_SECRET }],
    extra: { ...(storage.database ? { database: storage.database } : {}), ...options.extra },
  });
  let captured = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      captured += chunk.toString('utf8');
      done();
    },
  });
  const node = await createNode(loadConfig(dataDir, {}), {
    logger: createLogger('debug', sink),
    ...(options.now ? { now: options.now } : {}),
  });
  const url = options.listen === false ? '' : await node.listen();
  // As a load balancer waits for /readyz: the token index warms up beside the start (a few queries
  // on PostgreSQL, so it may still be at it when listen() returns).
  for (const deadline = Date.now() + 30_000; !node.checkStore.tokens.warm && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 5));
  let closed = false;
  let removed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await node.stop();
  };
  return {
    node,
    url,
    dataDir,
    adminKey: init.adminKey,
    logs: () => captured,
    key: async (scope) => (await node.keys.create(scope, `test ${scope}`)).key,
    request: (method, path, opts = {}) =>
      fetch(`${url}${path}`, {
        method,
        headers: {
          ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}),
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
        ...(opts.body !== undefined ? { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) } : {}),
      }),
    close,
    stop: async () => {
      if (removed) return;
      removed = true;
      await close();
      rmSync(dataDir, { recursive: true, force: true });
      await storage.drop();
    },
  };
}
