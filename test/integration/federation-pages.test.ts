/**
 * Pages of entries (docs/PROTOCOL.md, `GET …/entries/{start}/{end}`): a served page stops at
 * 8 MiB of base64 however many entries were asked for, so an honest node never answers more than
 * a peer's sync.maxResponseBytes accepts; the pulling side takes the short pages in its stride.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from '../../src/crypto/index.js';
import { toHex } from '../../src/crypto/encoding.js';
import { IDENTIFIER_TYPES } from '../../src/identifiers/types.js';
import { MAX_PAGE_BODY_BYTES } from '../../src/federation/routes.js';
import type { PreparedListing } from '../../src/service/listings.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';

let fed: TestFederation;
// Listings of 32 tokens (the most an entry holds) take ~3.6 KB of base64 each: this many pass 8 MiB.
const COUNT = 2_600;

beforeAll(async () => {
  fed = await createFederation(2);
  const alpha = fed.get('alpha').node;
  const base = alpha.listings.prepareListing({ identifiers: [{ type: 'email', value: 'a@example.org' }], category: 'fraud', severity: 'severe', banUntil: null });
  const items: PreparedListing[] = Array.from({ length: COUNT }, () => ({
    entry: { ...base.entry, tokens: Array.from({ length: 32 }, (_, i) => ({ type: IDENTIFIER_TYPES[i % IDENTIFIER_TYPES.length]!, epoch: 1, token: toHex(randomBytes(16)) })) },
    reference: null,
  }));
  for (let i = 0; i < COUNT; i += 500) await alpha.listings.appendPrepared(items.slice(i, i + 500));
}, 120_000);

afterAll(async () => {
  await fed.stop();
});

describe('a page of large entries', () => {
  it('stops at 8 MiB of entries, with at least one', async () => {
    const res = await fed.signedFetch('alpha', `/v1/federation/logs/alpha/entries/0/${COUNT}`, fed.asMember('beta'));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { start: number; entries: string[] };
    expect(body.entries.length).toBeGreaterThan(0);
    expect(body.entries.length).toBeLessThan(COUNT);
    const bytes = body.entries.reduce((n, e) => n + e.length + 3, 0);
    expect(bytes).toBeLessThanOrEqual(MAX_PAGE_BODY_BYTES);
    // Short because of the bytes, not the page limit: one more entry would have passed them.
    expect(bytes + body.entries[0]!.length + 3).toBeGreaterThan(MAX_PAGE_BODY_BYTES);
  });

  it('is taken in its stride by the pulling peer, which ends up with the whole log', async () => {
    await waitFor(async () => (await fed.logSize('beta', 'alpha')) === COUNT, { message: 'beta to mirror all of alpha', timeoutMs: 120_000, intervalMs: 250 });
    const status = await fed.status('beta');
    expect(status.misbehaviour).toEqual([]);
  }, 150_000);
});
