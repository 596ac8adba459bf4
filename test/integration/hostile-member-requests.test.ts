/**
 * A hostile member against the federation API, over real nodes on loopback (docs/SECURITY.md,
 * "A member floods the federation API"): one member sends far more signed requests than its rate
 * limit allows, and honest sync from another member goes on; requests refused by the limits hold
 * no slot in the replay cache; an outsider sending junk signatures under a member's key id gets 401s
 * that cost no slow verification and none of the member's allowance; a member that replays a
 * request it received to another node is refused (`@authority`). Every loop here is bounded in
 * count, never in time.
 */
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { toBase64 } from '../../src/crypto/encoding.js';
import { ed25519SlowVerifications, generateEd25519KeyPair } from '../../src/crypto/index.js';
import { addMember } from '../../src/roster/index.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { paymentAccount } from '../helpers/fixtures.js';

const CHECKPOINTS = '/v1/federation/checkpoints';

let fed: TestFederation | undefined;
afterEach(async () => {
  await fed?.stop();
  fed = undefined;
});

/** A GET with exactly these headers, Host included (fetch() always sets Host from the URL). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
    req.end();
  });
}

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
    fed = await createFederation(2, { extra: { limits: { peerRatePerSecond: 5, peerBurst: 20 }, sync: { maxSkewSeconds: 60 } } });
    const f = fed;
    const beta = f.asMember('beta');
    const refusedHeaders: Record<string, string>[] = [];
    const flooding = flood(400, 4, async () => {
      const headers = f.signedHeaders('alpha', CHECKPOINTS, beta);
      const res = await fetch(`${f.get('alpha').url}${CHECKPOINTS}`, { headers });
      await res.arrayBuffer();
      if (res.status === 429 && refusedHeaders.length < 3) refusedHeaders.push({ ...headers });
      return res.status;
    });
    // Meanwhile alpha lists, and the association's sync brings it across, and its own requests are served.
    const listed = [paymentAccount('alipay:flood-honest')];
    await f.list('alpha', listed);
    await f.waitForDecision('association', listed, 'deny');
    expect((await f.signedFetch('alpha', CHECKPOINTS, f.asMember('association'))).status).toBe(200);
    const statuses = await flooding;
    const served = statuses.filter((s) => s === 200).length;
    const limited = statuses.filter((s) => s === 429).length;
    // No request of the flood was refused as a replay: the cache never filled up for anyone.
    expect(
      statuses.every((s) => s === 200 || s === 429 || s === 503),
      JSON.stringify(statuses),
    ).toBe(true);
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

    // And after the flood too.
    expect((await f.signedFetch('alpha', CHECKPOINTS, f.asMember('association'))).status).toBe(200);
  });
});

describe("junk signatures under a real member's key id", () => {
  it("are refused 401 bad_signature without one slow verification, and use none of that member's allowance", async () => {
    fed = await createFederation(2, { extra: { limits: { peerRatePerSecond: 0.001, peerBurst: 10 } } });
    const f = fed;
    // delta is a member without a node, so that only this test spends delta's allowance at alpha.
    const deltaKey = generateEd25519KeyPair();
    await f.updateRoster((draft, now) => {
      const added = addMember(draft, { id: 'delta', name: 'Platform delta', publicKey: toBase64(deltaKey.publicKey), endpoint: 'http://127.0.0.1:9' }, now);
      if (!added.ok) throw new Error(added.error);
      return added.draft;
    });
    const delta = { keyId: 'delta', secretKey: deltaKey.secretKey };
    const outsider = generateEd25519KeyPair();
    const body = { origin: 'delta', size: 1, pad: 'x'.repeat(60_000) };
    const before = ed25519SlowVerifications();
    const statuses = await flood(200, 4, async () => {
      const res = await f.signedFetch('alpha', '/v1/federation/notify', { keyId: 'delta', secretKey: outsider.secretKey, method: 'POST', body });
      const code = ((await res.json()) as { error?: { code?: string } }).error?.code;
      return code === 'bad_signature' ? res.status : -res.status;
    });
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(ed25519SlowVerifications() - before).toBe(0);
    // delta's bucket (10 requests, then one per 1000 s) is untouched by the junk sent in its name.
    for (let i = 0; i < 10; i++) expect((await f.signedFetch('alpha', CHECKPOINTS, delta)).status).toBe(200);
    expect((await f.signedFetch('alpha', CHECKPOINTS, delta)).status).toBe(429);
  });
});

describe('a member replaying a request it received to another node', () => {
  it('is refused 401 wrong_authority: the signature covers the node it was meant for', async () => {
    fed = await createFederation(2);
    const f = fed;
    const alphaHost = new URL(f.get('alpha').url).host;
    // What alpha receives from beta, exactly as sent: Host names alpha.
    const headers = { ...f.signedHeaders('alpha', CHECKPOINTS, f.asMember('beta')), host: alphaHost };
    // alpha (or anyone who saw the request) sends it to the association within the skew window.
    const replayed = await rawGet(`${f.get('association').url}${CHECKPOINTS}`, headers);
    expect(replayed.status).toBe(401);
    expect((JSON.parse(replayed.body) as { error: { code: string } }).error.code).toBe('wrong_authority');
    // The request itself was good: alpha serves it once.
    expect((await rawGet(`${f.get('alpha').url}${CHECKPOINTS}`, headers)).status).toBe(200);
  });
});
