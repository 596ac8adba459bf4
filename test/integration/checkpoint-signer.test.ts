/**
 * When the checkpoint signer signs (federation/checkpoint-signer.ts): `checkpoints.intervalMs`
 * bounds how often, not how late. A listing after a quiet interval is signed at once; one that
 * follows a signing sooner waits for the interval (or a flush); `maxEntries` pending sign at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';
import { listingInput } from '../bench/synthetic.js';

let t: TestNode | undefined;
afterEach(() => t?.stop());

async function signedSize(node: TestNode): Promise<number> {
  return (await new CheckpointRepository(node.node.database.db).latest(node.node.config.member))?.size ?? -1;
}

async function until(what: () => Promise<boolean>): Promise<void> {
  while (!(await what())) await new Promise((resolve) => setTimeout(resolve, 10));
}

// The nodes are not started (listen: false), so nothing was signed before the first listing.
describe('a listing after a quiet interval', () => {
  it('is signed without waiting for the interval', { timeout: 30_000 }, async () => {
    // A signer that waits `intervalMs` after the first pending entry would not sign within the
    // test's timeout.
    t = await createTestNode({ listen: false, extra: { checkpoints: { intervalMs: 60_000, maxEntries: 1000 }, logging: { level: 'silent' } } });
    const node = t;
    await node.node.listings.create(listingInput(1, new Date()));
    await until(async () => (await signedSize(node)) === 1);
    expect(await signedSize(node)).toBe(1);
  });
});

describe('listings soon after a signing', () => {
  it('wait for the interval or a flush, and maxEntries signs at once', { timeout: 30_000 }, async () => {
    t = await createTestNode({ listen: false, extra: { checkpoints: { intervalMs: 60_000, maxEntries: 5 }, logging: { level: 'silent' } } });
    const node = t;
    await node.node.listings.create(listingInput(1, new Date()));
    await until(async () => (await signedSize(node)) === 1);
    // Within the interval of that signing: the next listing waits.
    await node.node.listings.create(listingInput(2, new Date()));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await signedSize(node)).toBe(1);
    await node.node.federation.signer.flush();
    expect(await signedSize(node)).toBe(2);
    // Five pending entries reach maxEntries: signed without waiting for the interval.
    await node.node.listings.createMany([3, 4, 5, 6, 7].map((k) => listingInput(k, new Date())));
    await until(async () => (await signedSize(node)) === 7);
    expect(await signedSize(node)).toBe(7);
  });
});
