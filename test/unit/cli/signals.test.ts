/**
 * The one SIGINT/SIGTERM handler of the CLI (src/cli/signals.ts): the first signal asks for a
 * graceful stop, once; after it no handler of ours is left, so a second signal has Node's default
 * effect and ends the process at once. Signals are emitted on `process` here, never sent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { stopOnSignal, type StopRequest } from '../../../src/cli/signals.js';

const listeners = () => ({ SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') });
const before = listeners();
let open: StopRequest | undefined;

afterEach(() => {
  open?.dispose();
  open = undefined;
});

describe.each(['SIGINT', 'SIGTERM'] as const)('the first %s', (signal) => {
  it('stops gracefully once, and leaves the second signal to end the process', async () => {
    const seen: string[] = [];
    open = stopOnSignal((s) => seen.push(s));
    expect(listeners()).toEqual({ SIGINT: before.SIGINT + 1, SIGTERM: before.SIGTERM + 1 });
    expect(open.signal.aborted).toBe(false);
    // As Node calls a signal handler: with the signal's name.
    process.emit(signal, signal);
    expect(await open.received).toBe(signal);
    expect(open.signal.aborted).toBe(true);
    expect(seen).toEqual([signal]);
    // Neither signal is ours any more: a second one gets Node's default, which ends the process.
    expect(listeners()).toEqual(before);
    const other = signal === 'SIGINT' ? 'SIGTERM' : 'SIGINT';
    process.emit(other, other);
    expect(seen).toEqual([signal]);
  });
});

describe('work that finishes first', () => {
  it('dispose stops listening without a stop', () => {
    const seen: string[] = [];
    open = stopOnSignal((s) => seen.push(s));
    open.dispose();
    expect(listeners()).toEqual(before);
    expect(open.signal.aborted).toBe(false);
    expect(seen).toEqual([]);
  });
});
