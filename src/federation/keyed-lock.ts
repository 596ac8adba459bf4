/**
 * A lock per key (the sync loop's per-origin lock: one origin is ingested by one peer at a time),
 * whose waiters give up after a deadline or when their signal aborts. Without the deadline a peer
 * that held an origin's lock (a trickled answer, a slow ingest) stalled every other peer's round
 * behind it; now a waiter leaves the queue and its round goes on with the next origin. The holder
 * is bounded separately (the ingest deadline, sync.ingestTimeoutMs).
 */

/** The lock was still held by another when the waiter's deadline passed (or its signal aborted). */
export class LockWaitTimeout extends Error {
  constructor(
    readonly key: string,
    readonly waitedMs: number,
  ) {
    super(`${key} is busy: not acquired within ${waitedMs} ms`);
    this.name = 'LockWaitTimeout';
  }
}

export class KeyedLock {
  /** Per held key, the waiters in arrival order; a key is absent when nobody holds it. */
  private readonly queues = new Map<string, (() => void)[]>();

  /** Whether someone holds `key` now. */
  held(key: string): boolean {
    return this.queues.has(key);
  }

  /** Runs `fn` holding `key`; waits at most `waitMs` for it. Rejects with LockWaitTimeout otherwise. */
  async run<T>(key: string, fn: () => Promise<T>, opts: { waitMs: number; signal?: AbortSignal | undefined }): Promise<T> {
    await this.acquire(key, opts.waitMs, opts.signal);
    try {
      return await fn();
    } finally {
      this.release(key);
    }
  }

  private acquire(key: string, waitMs: number, signal: AbortSignal | undefined): Promise<void> {
    const queue = this.queues.get(key);
    if (!queue) {
      this.queues.set(key, []);
      return Promise.resolve();
    }
    if (signal?.aborted) return Promise.reject(new LockWaitTimeout(key, 0));
    const started = Date.now();
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
        const at = queue.indexOf(grant);
        if (at >= 0) queue.splice(at, 1);
      };
      const grant = () => {
        leave();
        resolve();
      };
      const giveUp = () => {
        leave();
        reject(new LockWaitTimeout(key, Date.now() - started));
      };
      const timer = setTimeout(giveUp, waitMs);
      signal?.addEventListener('abort', giveUp, { once: true });
      queue.push(grant);
    });
  }

  private release(key: string): void {
    const queue = this.queues.get(key);
    const next = queue?.shift();
    // The key stays held: ownership passes straight to the next waiter.
    if (next) next();
    else this.queues.delete(key);
  }
}
