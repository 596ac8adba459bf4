/**
 * API keys are cached in memory by the node (service/api-keys.ts): a revoked key must still stop
 * working on the very next request, whether the node revoked it or the CLI did from another process
 * (on PostgreSQL, the CLI's revocation reaches the node through a LISTEN a moment after its
 * commit: within a short bounded wait, store/postgres/api-key-lookup.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { phone } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { testEngine } from '../helpers/engine.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode;
beforeEach(async () => {
  t = await createTestNode();
});
afterEach(() => t.stop());

const check = (key: string) => t.request('POST', '/v1/check', { key, body: { identifiers: [phone()] } });
/** The first answer that is not 200 (PostgreSQL: within 10 s), or the last 200. */
async function refusedSoon(key: string): Promise<Response> {
  const deadline = Date.now() + (testEngine() === 'postgres' ? 10_000 : 0);
  for (;;) {
    const res = await check(key);
    if (res.status !== 200 || Date.now() >= deadline) return res;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
// `jb_<12-character id>_<secret>`: the id may itself contain '_'.
const keyId = (key: string) => key.slice(3, 15);

describe('a cached API key that is revoked', () => {
  it('is refused when the CLI revokes it from another process: at once on SQLite, a moment later on PostgreSQL', async () => {
    const key = await t.key('check');
    const other = await t.key('check');
    // Twice, so the second answer comes from the cache.
    expect((await check(key)).status).toBe(200);
    expect((await check(key)).status).toBe(200);
    const revoked = await runCli(['apikey', 'revoke', '--data-dir', t.dataDir, keyId(key)]);
    expect(revoked.code).toBe(0);
    const res = await refusedSoon(key);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await check(other)).status).toBe(200);
  });

  it('is refused at once when the node revokes it', async () => {
    const key = await t.key('check');
    expect((await check(key)).status).toBe(200);
    await t.node.keys.revoke(keyId(key));
    expect((await check(key)).status).toBe(401);
  });

  it('with a wrong secret is refused although its id is cached', async () => {
    const key = await t.key('check');
    expect((await check(key)).status).toBe(200);
    const forged = `${key.slice(0, -4)}${key.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    expect((await check(forged)).status).toBe(401);
  });
});
