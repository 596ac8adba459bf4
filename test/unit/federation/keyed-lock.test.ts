/** The per-origin sync lock: FIFO hand-over, and waiters that give up at their deadline or signal. */
import { describe, expect, it } from 'vitest';
import { KeyedLock, LockWaitTimeout } from '../../../src/federation/keyed-lock.js';

/** A promise and its resolver: a holder that keeps the lock until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('KeyedLock', () => {
  it('runs holders of one key one after another, in arrival order, and other keys at once', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const first = gate();
    const a = lock.run(
      'alpha',
      async () => {
        order.push('a start');
        await first.promise;
        order.push('a end');
      },
      { waitMs: 10_000 },
    );
    const b = lock.run('alpha', async () => void order.push('b'), { waitMs: 10_000 });
    const c = lock.run('alpha', async () => void order.push('c'), { waitMs: 10_000 });
    await lock.run('beta', async () => void order.push('other key'), { waitMs: 10_000 });
    expect(lock.held('alpha')).toBe(true);
    first.open();
    await Promise.all([a, b, c]);
    expect(order).toEqual(['a start', 'other key', 'a end', 'b', 'c']);
    expect(lock.held('alpha')).toBe(false);
  });

  it('lets a waiter give up at its deadline; it leaves the queue and the next waiter still gets the lock', async () => {
    const lock = new KeyedLock();
    const holder = gate();
    const held = lock.run('alpha', () => holder.promise, { waitMs: 10_000 });
    let ranImpatient = false;
    const impatient = lock.run('alpha', async () => void (ranImpatient = true), { waitMs: 20 });
    const patient = lock.run('alpha', async () => 'patient ran', { waitMs: 10_000 });
    const err = await impatient.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockWaitTimeout);
    expect((err as LockWaitTimeout).key).toBe('alpha');
    holder.open();
    await held;
    expect(await patient).toBe('patient ran');
    expect(ranImpatient).toBe(false);
    expect(lock.held('alpha')).toBe(false);
  });

  it('lets a waiter give up when its signal aborts, and releases the lock when the holder throws', async () => {
    const lock = new KeyedLock();
    const holder = gate();
    const held = lock.run(
      'alpha',
      async () => {
        await holder.promise;
        throw new Error('ingest failed');
      },
      { waitMs: 10_000 },
    );
    const abort = new AbortController();
    const waiting = lock.run('alpha', async () => 'ran', { waitMs: 10_000, signal: abort.signal });
    abort.abort();
    await expect(waiting).rejects.toBeInstanceOf(LockWaitTimeout);
    holder.open();
    await expect(held).rejects.toThrow('ingest failed');
    expect(lock.held('alpha')).toBe(false);
    expect(await lock.run('alpha', async () => 'free again', { waitMs: 0 })).toBe('free again');
  });
});
