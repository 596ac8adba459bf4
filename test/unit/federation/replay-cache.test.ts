/** The nonce cache of peer authentication (src/federation/replay-cache.ts), on a hand-driven clock. */
import { describe, expect, it } from 'vitest';
import { nonceQuota, ReplayCache } from '../../../src/federation/replay-cache.js';

const NOW = 1_750_000_000;
const SKEW = 300;

describe('replay', () => {
  const cache = (maxEntriesPerKey = 3) => new ReplayCache({ windowSeconds: SKEW, maxEntriesPerKey });

  it('the same nonce twice → replayed; a different nonce → ok; another member → ok', () => {
    const c = cache();
    expect(c.remember('alpha', 'n1', NOW, NOW)).toBe('remembered');
    expect(c.seen('alpha', 'n1', NOW + 1)).toBe(true);
    expect(c.remember('alpha', 'n1', NOW, NOW + 1)).toBe('replayed');
    expect(c.seen('alpha', 'n2', NOW + 1)).toBe(false);
    expect(c.remember('alpha', 'n2', NOW, NOW + 1)).toBe('remembered');
    expect(c.remember('beta', 'n1', NOW, NOW + 1)).toBe('remembered');
  });

  it('seen() remembers nothing', () => {
    const c = cache();
    expect(c.seen('alpha', 'n1', NOW)).toBe(false);
    expect(c.size).toBe(0);
    expect(c.remember('alpha', 'n1', NOW, NOW)).toBe('remembered');
  });

  it('keys cannot collide across the keyid/nonce boundary', () => {
    const c = cache();
    expect(c.remember('ab', 'c', NOW, NOW)).toBe('remembered');
    expect(c.remember('a', 'bc', NOW, NOW)).toBe('remembered');
  });

  it('forgets an entry once created + window has passed', () => {
    const c = cache();
    expect(c.remember('alpha', 'n1', NOW, NOW)).toBe('remembered');
    expect(c.remember('alpha', 'n1', NOW, NOW + SKEW - 1)).toBe('replayed');
    expect(c.size).toBe(1);
    expect(c.seen('alpha', 'n1', NOW + SKEW)).toBe(false);
    expect(c.remember('alpha', 'n2', NOW + SKEW, NOW + SKEW)).toBe('remembered');
    expect(c.size).toBe(1);
  });

  it('refuses a signature older than its window (fail closed on a short window)', () => {
    expect(cache().remember('alpha', 'n1', NOW - SKEW, NOW)).toBe('expired');
  });
});

describe('replay: a quota per member', () => {
  it('refuses a member over its quota, accepts it again after eviction', () => {
    const c = new ReplayCache({ windowSeconds: SKEW, maxEntriesPerKey: 3 });
    for (const n of ['a', 'b', 'c']) expect(c.remember('alpha', n, NOW, NOW)).toBe('remembered');
    expect(c.remember('alpha', 'd', NOW, NOW)).toBe('quota');
    expect(c.sizeOf('alpha')).toBe(3);
    expect(c.remember('alpha', 'd', NOW + 10, NOW + SKEW)).toBe('remembered');
    expect(c.sizeOf('alpha')).toBe(1);
  });

  it("one member's full share never refuses another member", () => {
    const c = new ReplayCache({ windowSeconds: SKEW, maxEntriesPerKey: 100 });
    for (let i = 0; i < 100; i++) expect(c.remember('mallory', `m${i}`, NOW, NOW)).toBe('remembered');
    expect(c.remember('mallory', 'one-more', NOW, NOW)).toBe('quota');
    for (let i = 0; i < 100; i++) expect(c.remember('beta', `b${i}`, NOW, NOW)).toBe('remembered');
    expect(c.size).toBe(200);
    expect([c.sizeOf('mallory'), c.sizeOf('beta'), c.sizeOf('nobody')]).toEqual([100, 100, 0]);
  });

  it('evicts in expiry order, whatever the insertion order, and counts down per member', () => {
    const c = new ReplayCache({ windowSeconds: 100, maxEntriesPerKey: 100 });
    const createds = [50, 10, 90, 30, 70, 20, 80, 40, 60, 0];
    for (const [i, t] of createds.entries()) expect(c.remember(i % 2 ? 'm' : 'n', `n${i}`, NOW + t, NOW)).toBe('remembered');
    // At NOW + 145 everything created up to NOW + 45 has expired: 0..40 go, 50..90 stay.
    expect(c.remember('m', 'x', NOW + 50, NOW + 145)).toBe('remembered');
    expect(c.size).toBe(6);
    expect(c.sizeOf('m') + c.sizeOf('n')).toBe(6);
    for (const [i, t] of createds.entries()) expect(c.seen(i % 2 ? 'm' : 'n', `n${i}`, NOW + 145)).toBe(t >= 50);
  });

  it('the derived quota is what a member within its rate limit can use in a nonce lifetime', () => {
    expect(nonceQuota({ ratePerSecond: 100, burst: 1000 }, 300)).toBe(1000 + 100 * 601);
    expect(nonceQuota({ ratePerSecond: 0.5, burst: 1 }, 5)).toBe(1 + 6);
  });

  it('rejects nonsensical options', () => {
    expect(() => new ReplayCache({ windowSeconds: 0, maxEntriesPerKey: 1 })).toThrow(RangeError);
    expect(() => new ReplayCache({ windowSeconds: 1, maxEntriesPerKey: 0 })).toThrow(RangeError);
  });
});
