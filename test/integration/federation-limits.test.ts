/**
 * Limits of the federation API on real nodes: the entries route never serves more than
 * `sync.pageSize` entries however large the range a peer asks for, sync still completes across
 * pages, and the per-peer request limit (`limits.peerRatePerSecond`, `limits.peerBurst`) is
 * mounted on the federation routes and answers 429 with Retry-After.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { phone } from '../helpers/fixtures.js';

let fed: TestFederation | undefined;
afterEach(async () => {
  await fed?.stop();
  fed = undefined;
});

interface EntriesBody {
  origin: string;
  start: number;
  entries: string[];
}

describe('the entries route clamps a requested range to sync.pageSize', () => {
  it('serves at most pageSize entries, and sync still brings every entry across pages', async () => {
    fed = await createFederation(1, { extra: { sync: { pageSize: 2 } } });
    const f = fed;
    for (let i = 0; i < 5; i++) await f.list('alpha', [phone(`138 0013 ${String(8000 + i)}`)]);
    await waitFor(async () => (await f.logSize('association', 'alpha')) === 5, { message: 'the association to mirror all 5 entries of alpha' });

    const fetchEntries = async (start: number, end: string): Promise<EntriesBody> => {
      const path = `/v1/federation/logs/alpha/entries/${start}/${end}`;
      const res = await f.signedFetch('alpha', path, f.asMember('association'));
      expect(res.status, path).toBe(200);
      return (await res.json()) as EntriesBody;
    };
    expect((await fetchEntries(0, '5')).entries).toHaveLength(2);
    expect((await fetchEntries(0, '9999999999999999')).entries).toHaveLength(2);
    expect((await fetchEntries(3, '5')).entries).toHaveLength(2);
    // The end of the log comes before the page limit.
    const last = await fetchEntries(4, '1000');
    expect(last).toMatchObject({ origin: 'alpha', start: 4 });
    expect(last.entries).toHaveLength(1);
    // The association serves its copy with the same limit.
    const res = await f.signedFetch('association', '/v1/federation/logs/alpha/entries/0/5', f.asMember('alpha'));
    expect(((await res.json()) as EntriesBody).entries).toHaveLength(2);
  });
});

describe('the per-peer request limit', () => {
  it('answers 429 with Retry-After once a member has used its burst', async () => {
    // One request per 1000 s: whatever the association's own sync loop used, a second request
    // in a row from it cannot be served.
    fed = await createFederation(1, { extra: { limits: { peerRatePerSecond: 0.001, peerBurst: 1 } } });
    const f = fed;
    const ask = () => f.signedFetch('alpha', '/v1/federation/checkpoints', f.asMember('association'));
    await ask();
    const refused = await ask();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
  });

  it('does not limit the unauthenticated roster route', async () => {
    fed = await createFederation(1, { extra: { limits: { peerRatePerSecond: 0.001, peerBurst: 1 } } });
    for (let i = 0; i < 5; i++) expect((await fetch(`${fed.get('association').url}/v1/roster`)).status).toBe(200);
  });
});
