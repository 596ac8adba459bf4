/**
 * A hostile member against the federation API, over real nodes on loopback (docs/SECURITY.md,
 * "A member floods the federation API"): one member sends far more signed requests than its rate
 * limit allows, and honest sync from another member goes on; requests refused by the limits hold
 * no slot in the replay cache. Every loop here is bounded in count, never in time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { paymentAccount } from '../helpers/fixtures.js';

const CHECKPOINTS = '/v1/federation/checkpoints';

let fed: TestFederation | undefined;
afterEach(async () => {
  await fed?.stop();
  fed = undefined;
});

/** Runs `count` calls of `send`, `parallel` at a time; returns the statuses in order. */
async function flood(count: number, parallel: number, send: (i: number) => Promise<number>): Promise<number[]> {
  const statuses: number[] = new Array<number>(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) statuses[i] = await send(i);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return statuses;
}

describe('a member flooding the federation API', () => {
  it('is held to its own rate and nonce share; honest sync from another member continues', async () => {
    // Small limits so that a bounded flood is far over them: 20 at once, then 5 per second.
    fed = await createFederation(2, { extra: { limits: { peerRatePerSecond: 5, peerBurst: 20 }, sync: { maxSkewSeconds: 30 } } });
    const f = fed;
    const beta = f.asMember('beta');
    const refusedHeaders: Record<string, string>[] = [];
    const statuses = await flood(400, 4, async () => {
      const headers = f.signedHeaders(CHECKPOINTS, beta);
      const res = await fetch(`${f.get('alpha').url}${CHECKPOINTS}`, { headers });
      await res.arrayBuffer();
      if (res.status === 429 && refusedHeaders.length < 3) refusedHeaders.push({ ...headers });
      return res.status;
    });
    const served = statuses.filter((s) => s === 200).length;
    const limited = statuses.filter((s) => s === 429).length;
    // No request of the flood was refused as a replay: the cache never filled up for anyone.
    expect(statuses.every((s) => s === 200 || s === 429 || s === 503), JSON.stringify(statuses)).toBe(true);
    expect(limited).toBeGreaterThan(300);
    expect(served).toBeGreaterThan(0);

    // The refused requests were not remembered: once beta's bucket refills, one of them is served.
    const again = refusedHeaders[0]!;
    const retried = await waitFor(
      async () => {
        const res = await fetch(`${f.get('alpha').url}${CHECKPOINTS}`, { headers: again });
        await res.arrayBuffer();
        return res.status === 429 ? undefined : res.status;
      },
      { message: 'a request refused during the flood to be served once the bucket refills', intervalMs: 100 },
    );
    expect(retried).toBe(200);

    // Honest sync from the association to alpha carries on, and its own requests are served.
    const listed = [paymentAccount('alipay:flood-honest')];
    await f.list('alpha', listed);
    await f.waitForDecision('association', listed, 'deny');
    const honest = await f.signedFetch('alpha', CHECKPOINTS, f.asMember('association'));
    expect(honest.status).toBe(200);
  });
});
