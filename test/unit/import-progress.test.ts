/**
 * Progress of the bulk commands when stderr is not a terminal (src/jobs/progress.ts):
 * one plain line per interval with the rate, and the share and time left when the size is known.
 * A fake clock drives it; nothing here waits.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration, progressLine, type ProgressSnapshot } from '../../src/jobs/progress.js';

const snap = (rows: number, bytes: number): ProgressSnapshot => ({
  rows,
  bytes,
  parts: [
    ['listed', rows - 3],
    ['skipped', 1],
    ['rejected', 2],
  ],
});

describe('a plain progress line', () => {
  it('gives the counts, the rate, the share read and the time left', () => {
    expect(progressLine('import', snap(120_000, 250), 20_000, 1000)).toBe('import: 120000 rows (listed 119997, skipped 1, rejected 2), 6000 rows/s, 25%, about 1m 0s left');
  });

  it('gives the rate only for standard input', () => {
    expect(progressLine('rescan', snap(10, 0), 2_000, undefined)).toBe('rescan: 10 rows (listed 7, skipped 1, rejected 2), 5 rows/s');
  });

  it('formats durations', () => {
    expect([formatDuration(400), formatDuration(59_000), formatDuration(61_000), formatDuration(3_723_000)]).toEqual(['0s', '59s', '1m 1s', '1h 2m']);
  });
});

describe('plain progress', () => {
  it('prints at most one line per interval', () => {
    let now = 0;
    let text = '';
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString('utf8');
        done();
      },
    }) as unknown as NodeJS.WriteStream;
    const progress = createProgress({ verb: 'import', stream, tty: false, totalBytes: undefined, intervalMs: 10_000, clock: () => now });
    for (const [t, rows] of [
      [1_000, 10],
      [9_999, 20],
      [10_000, 30],
      [15_000, 40],
      [20_001, 50],
    ] as const) {
      now = t;
      progress.update(snap(rows, 0));
    }
    progress.finish(snap(50, 0));
    expect(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[1]),
    ).toEqual(['30', '50']);
  });
});
