/**
 * The token bucket of src/common/rate-limiter.ts and the cost of a check (src/api/rate-limit.ts),
 * with an injected clock: every expectation is exact arithmetic, nothing waits for wall time.
 */
import { describe, expect, it } from 'vitest';
import { checkCost, maxCheckCost, maxWatchCost, watchCost } from '../../src/api/rate-limit.js';
import { RateLimiter, type TakeResult } from '../../src/common/rate-limiter.js';

/** A limiter on a clock the test moves by hand (milliseconds). */
function limiter(ratePerSecond: number, burst: number, options: { maxBuckets?: number } = {}) {
  let ms = 1_750_000_000_000;
  const l = new RateLimiter({ ratePerSecond, burst }, () => ms, options);
  return {
    l,
    advance: (by: number) => {
      ms += by;
    },
    set: (to: number) => {
      ms = to;
    },
    now: () => ms,
  };
}

const OK: TakeResult = { ok: true };
const wait = (retryAfterSeconds: number): TakeResult => ({ ok: false, retryAfterSeconds });

describe('a full bucket serves a burst, then refuses', () => {
  it('serves exactly `burst` unit requests, then says how long to wait', () => {
    const { l } = limiter(2, 5);
    for (let i = 0; i < 5; i++) expect(l.take('k', 1)).toEqual(OK);
    // Empty; one token comes back after 0.5 s, rounded up to whole seconds.
    expect(l.take('k', 1)).toEqual(wait(1));
    expect(l.available('k')).toBe(0);
  });

  it('charges a request its cost, and refuses a cost larger than what is left without taking any', () => {
    const { l } = limiter(1, 10);
    expect(l.take('k', 7)).toEqual(OK);
    expect(l.available('k')).toBe(3);
    expect(l.take('k', 5)).toEqual(wait(2));
    expect(l.available('k')).toBe(3);
    expect(l.take('k', 3)).toEqual(OK);
    expect(l.available('k')).toBe(0);
  });

  it('treats a cost below 1 as 1', () => {
    const { l } = limiter(1, 2);
    expect(l.take('k', 0)).toEqual(OK);
    expect(l.take('k', -3)).toEqual(OK);
    expect(l.take('k', 0)).toEqual(wait(1));
  });
});

describe('refill follows the injected clock', () => {
  it('adds ratePerSecond tokens per second, never beyond burst', () => {
    const { l, advance } = limiter(1, 3);
    for (let i = 0; i < 3; i++) expect(l.take('k', 1)).toEqual(OK);
    advance(999);
    expect(l.take('k', 1)).toEqual(wait(1));
    advance(1);
    expect(l.take('k', 1)).toEqual(OK);
    advance(60_000);
    expect(l.available('k')).toBe(3);
  });

  it('handles fractional rates: 0.5 per second is one token every 2 s', () => {
    const { l, advance } = limiter(0.5, 1);
    expect(l.take('k', 1)).toEqual(OK);
    expect(l.take('k', 1)).toEqual(wait(2));
    advance(1_000);
    expect(l.take('k', 1)).toEqual(wait(1));
    advance(1_000);
    expect(l.take('k', 1)).toEqual(OK);
  });

  it('rounds Retry-After up to whole seconds: 3 tokens short at 2 per second is 2 s', () => {
    const { l } = limiter(2, 4);
    expect(l.take('k', 4)).toEqual(OK);
    expect(l.take('k', 3)).toEqual(wait(2));
  });

  it('treats a clock that goes back as standing still, and resumes from the later time', () => {
    const { l, advance, set, now } = limiter(1, 2);
    const t0 = now();
    expect(l.take('k', 2)).toEqual(OK);
    set(t0 - 10_000);
    expect(l.take('k', 1)).toEqual(wait(1));
    set(t0 + 1_000);
    expect(l.take('k', 1)).toEqual(OK);
    advance(0);
    expect(l.take('k', 1)).toEqual(wait(1));
  });
});

describe('a request larger than the whole bucket', () => {
  it('is served on a full bucket and leaves a debt that the clock pays back', () => {
    const { l, advance } = limiter(1, 3);
    expect(l.take('k', 5)).toEqual(OK);
    expect(l.available('k')).toBe(-2);
    // Needs 1 token: 3 seconds of refill to get from -2 to 1.
    expect(l.take('k', 1)).toEqual(wait(3));
    advance(2_000);
    expect(l.take('k', 1)).toEqual(wait(1));
    advance(1_000);
    expect(l.take('k', 1)).toEqual(OK);
  });

  it('waits for a full bucket, not for more than the bucket can hold', () => {
    const { l, advance } = limiter(1, 3);
    expect(l.take('k', 1)).toEqual(OK);
    expect(l.take('k', 50)).toEqual(wait(1));
    advance(1_000);
    expect(l.take('k', 50)).toEqual(OK);
  });

  it('keeps the long-run rate: 10 s at 1 per second serves at most burst + 10 + one request', () => {
    const { l, advance } = limiter(1, 3);
    let served = 0;
    for (let s = 0; s <= 10; s++) {
      for (;;) {
        if (!l.take('k', 4).ok) break;
        served += 4;
      }
      if (s < 10) advance(1_000);
    }
    expect(served).toBeLessThanOrEqual(3 + 10 + 4);
    expect(served).toBe(12);
  });
});

describe('callers are independent', () => {
  it('one caller emptying its bucket leaves another untouched', () => {
    const { l } = limiter(1, 2);
    expect(l.take('a', 2)).toEqual(OK);
    expect(l.take('a', 1)).toEqual(wait(1));
    expect(l.take('b', 2)).toEqual(OK);
  });
});

describe('memory is bounded', () => {
  it('forgets buckets that have refilled completely, which changes no answer', () => {
    const { l, advance } = limiter(1, 2);
    l.take('a', 1);
    l.take('b', 2);
    expect(l.size).toBe(2);
    advance(1_000);
    // a is full again (1 + 1); b holds 1. The next take forgets a.
    l.take('c', 1);
    expect(l.size).toBe(2);
    expect(l.available('a')).toBe(2);
    expect(l.available('b')).toBe(1);
  });

  it('never holds more than maxBuckets, dropping the least recently used', () => {
    const { l } = limiter(1, 10, { maxBuckets: 3 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) l.take(k, 10);
    expect(l.size).toBe(3);
    // a and b were dropped: they start again from a full bucket; e was kept and is empty.
    expect(l.available('a')).toBe(10);
    expect(l.available('e')).toBe(0);
    // Using c makes it the most recent, so d goes next.
    l.take('c', 0);
    l.take('f', 1);
    expect(l.available('d')).toBe(10);
    expect(l.available('c')).toBe(0);
  });

  it('refuses a configuration that can never serve', () => {
    expect(() => new RateLimiter({ ratePerSecond: 0, burst: 1 }, () => 0)).toThrow(RangeError);
    expect(() => new RateLimiter({ ratePerSecond: 1, burst: 0 }, () => 0)).toThrow(RangeError);
  });
});

describe('the cost of a check is the number of values it tests', () => {
  const max = maxCheckCost(16);
  it.each([
    ['one identifier', { identifiers: [{}] }, 1],
    ['three identifiers', { identifiers: [{}, {}, {}] }, 3],
    ['identifiers and tokens', { identifiers: [{}, {}], tokens: [{}, {}, {}] }, 5],
    ['an empty object', {}, 1],
    ['not an object', 'x', 1],
    ['no body', undefined, 1],
    ['identifiers that are not a list', { identifiers: 'abc' }, 1],
    ['more than a valid check can carry', { identifiers: new Array(1000).fill({}) }, 80],
  ])('%s', (_name, body, cost) => {
    expect(checkCost(body, max)).toBe(cost);
  });

  it('a valid check carries at most maxIdentifiersPerRequest identifiers and 4× as many tokens', () => {
    expect(maxCheckCost(16)).toBe(80);
    expect(maxCheckCost(1)).toBe(5);
  });
});

describe('the cost of a watch request is the number of identifiers it enrols', () => {
  const max = maxWatchCost(1000, 16);
  const item = (n: number) => ({ reference: 'r', identifiers: new Array(n).fill({}) });
  it.each([
    ['one reference of one identifier', { watch: [item(1)] }, 1],
    ['1,000 references of 5', { watch: new Array(1000).fill(item(5)) }, 5000],
    ['references without identifiers count none, but a request costs at least 1', { watch: [{ reference: 'r' }, null, 'x'] }, 1],
    ['mixed', { watch: [item(3), { reference: 'r', identifiers: 'abc' }, item(2)] }, 5],
    ['no watch list', { identifiers: [{}, {}] }, 1],
    ['not an object', 'x', 1],
    ['more than a valid request can carry', { watch: new Array(2000).fill(item(16)) }, 16_000],
  ])('%s', (_name, body, cost) => {
    expect(watchCost(body, max)).toBe(cost);
  });

  it('a valid request carries at most 1,000 references of maxIdentifiersPerRequest identifiers', () => {
    expect(maxWatchCost(1000, 16)).toBe(16_000);
  });
});

describe('refills that arrive in pieces add up exactly', () => {
  it('a debt of 6 at 1 per second is paid at 7 s, however the time is split among refused requests', () => {
    const { l, advance } = limiter(1, 10);
    expect(l.take('k', 16)).toEqual(OK);
    advance(6_999);
    expect(l.take('k', 1)).toEqual(wait(1));
    advance(1);
    expect(l.take('k', 1)).toEqual(OK);
  });
});
