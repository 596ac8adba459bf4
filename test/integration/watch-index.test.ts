/**
 * Matching watched accounts uses indexes, never a scan of the watchlist or of the token index:
 * SQLite's query plan for both hook queries, on a real migrated database with data in it (so the
 * planner's choice is the one a node makes).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { activeMatchesQuery, expiredBetweenQuery, watchHitsQuery } from '../../src/store/watch-repository.js';
import { listingBody, phone } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode;
afterEach(() => t.stop());

function plan(t: TestNode, query: { compile(): { sql: string; parameters: readonly unknown[] } }): string[] {
  const { sql, parameters } = query.compile();
  const rows = t.node.database.sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(parameters as unknown[])) as { detail: string }[];
  return rows.map((r) => r.detail);
}

describe('watch matching query plans', () => {
  it('look up watch_tokens and listing_tokens by index', async () => {
    t = await createTestNode({ listen: false });
    await t.node.watch.put(Array.from({ length: 50 }, (_, i) => ({ reference: `acct-${i}`, identifiers: [phone(`+86 139 0000 ${String(1000 + i)}`)] })));
    for (let i = 0; i < 5; i++) await t.node.listings.create(listingBody({ identifiers: [phone(`+86 139 0000 ${String(1000 + i)}`)] }) as never);
    const db = t.node.database.db;
    const hits = plan(t, watchHitsQuery(db, ['alpha:1', 'alpha:2']));
    const matches = plan(t, activeMatchesQuery(db, ['acct-1', 'acct-2'], new Date().toISOString()));
    for (const detail of [...hits, ...matches]) expect(detail).not.toMatch(/^SCAN (wt|lt|l)\b/);
    expect(hits.join('\n')).toMatch(/SEARCH wt USING (COVERING )?INDEX sqlite_autoindex_watch_tokens_1|SEARCH wt USING (COVERING )?INDEX watch_tokens/);
    expect(matches.join('\n')).toMatch(/SEARCH wt USING (COVERING )?INDEX watch_tokens_reference/);
    expect(matches.join('\n')).toMatch(/SEARCH lt USING/);
    // The expiry sweep (service/watch-lifts.ts) runs every minute: by index, never a scan of listings.
    const now = new Date();
    const expired = plan(t, expiredBetweenQuery(db, new Date(now.getTime() - 60_000).toISOString(), now.toISOString(), 2000));
    expect(expired.join('\n')).toMatch(/SEARCH listings USING INDEX listings_expires_at/);
  });
});
