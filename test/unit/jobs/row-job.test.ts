/**
 * The bulk jobs' one harness (src/jobs/row-job.ts) over an in-memory JSON Lines source and a toy
 * job: every row read ends counted or refused, refusals reach the rejects file in row order,
 * batches keep their size and order, an interruption or a broken input still handles the rows read
 * before it, a bug fails the run, and progress and status are offered and finished.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import type { Progress, ProgressSnapshot } from '../../../src/jobs/progress.js';
import { oneByOne, refusal, runRowJob, type Outcome, type RowJob, type RowJobOptions, type RowJobTotals } from '../../../src/jobs/row-job.js';
import { openRowSource } from '../../../src/jobs/row-source.js';
import { USER_COLUMNS } from '../../../src/jobs/rows.js';

type Parity = 'even' | 'odd';

/** One JSON number per line; a negative one is refused by the job (an AppError), a string by the parser. */
function lines(values: unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join('\n');
}

async function source(text: string | Buffer) {
  return openRowSource({ file: '-', format: 'jsonl', columns: USER_COLUMNS, stdin: Readable.from([typeof text === 'string' ? Buffer.from(text) : text]) });
}

function parityJob(batches: number[][], each?: (n: number) => void): RowJob<number, Parity> {
  const one = async (n: number): Promise<Outcome<Parity>> => {
    each?.(n);
    if (n < 0) throw new AppError('invalid_input', 'value: must not be negative');
    return n % 2 === 0 ? 'even' : 'odd';
  };
  const handleOne = oneByOne((n: number) => one(n).catch(refusal));
  return {
    outcomes: ['even', 'odd'],
    parse: (row) => (row.format === 'jsonl' && typeof row.value === 'number' ? { ok: true, value: row.value } : { ok: false, reason: 'value: must be a number' }),
    handle: async (rows) => {
      batches.push([...rows]);
      return handleOne(rows);
    },
    progressParts: (t) => [
      ['even', t.counts.even],
      ['odd', t.counts.odd],
      ['rejected', t.rejected],
    ],
  };
}

function recorder() {
  const rejected: [number, string][] = [];
  const updates: ProgressSnapshot[] = [];
  const finished: ProgressSnapshot[] = [];
  const progress: Progress = { update: (s) => updates.push(s), finish: (s) => finished.push(s) };
  return { rejected, updates, finished, progress, rejects: { add: async (row: number, reason: string) => void rejected.push([row, reason]) } };
}

async function run(text: string | Buffer, options: Partial<RowJobOptions<Parity>> & { each?: (n: number) => void } = {}) {
  const batches: number[][] = [];
  const r = recorder();
  const result = await runRowJob(parityJob(batches, options.each), { source: await source(text), rejects: r.rejects, batchSize: 3, progress: r.progress, ...options });
  return { result, batches, ...r };
}

describe('rows, outcomes and refusals', () => {
  it('counts every row as an outcome or a refusal, the refusals in row order, in batches of batchSize', async () => {
    const { result, batches, rejected } = await run(lines([2, 'x', 3, -1, 4, 5, 'y', 7]));
    expect(result).toMatchObject({ rows: 8, rejected: 3, counts: { even: 2, odd: 3 }, interrupted: false, error: undefined });
    // A batch is 3 rows read, refused ones included; the job sees only the parsed ones.
    expect(batches).toEqual([[2, 3], [-1, 4, 5], [7]]);
    expect(rejected).toEqual([
      [2, 'value: must be a number'],
      [4, 'value: must not be negative'],
      [7, 'value: must be a number'],
    ]);
  });

  it('fails the run on an error that is not an AppError, and still finishes the progress', async () => {
    const bug = new TypeError('a bug');
    const r = recorder();
    const job = parityJob([], (n) => {
      if (n === 5) throw bug;
    });
    await expect(runRowJob(job, { source: await source(lines([1, 2, 3, 4, 5, 6, 7])), rejects: r.rejects, batchSize: 2, progress: r.progress })).rejects.toBe(bug);
    expect(r.finished).toHaveLength(1);
  });

  it('refuses a job that gives fewer outcomes than rows', async () => {
    const r = recorder();
    const job: RowJob<number, Parity> = { ...parityJob([]), handle: async () => [] };
    await expect(runRowJob(job, { source: await source(lines([1])), rejects: r.rejects, batchSize: 2 })).rejects.toThrow('0 outcomes for 1 rows');
  });
});

describe('stopping early', () => {
  it('stops after the current row once the signal aborts, and handles every row read', async () => {
    const controller = new AbortController();
    const { result, batches } = await run(lines([1, 2, 3, 4, 5, 6, 7, 8, 9]), {
      signal: controller.signal,
      batchSize: 2,
      each: (n) => {
        if (n === 3) controller.abort();
      },
    });
    expect(result.interrupted).toBe(true);
    expect(result.rows).toBeLessThan(9);
    // Rows read while the batch with 3 was in flight are handled too: none is lost or left uncounted.
    expect(result.counts.even + result.counts.odd).toBe(result.rows);
    expect(batches.flat()).toEqual(Array.from({ length: result.rows }, (_, i) => i + 1));
  });

  it('returns a broken input as its error after handling every row before it', async () => {
    const text = Buffer.concat([Buffer.from(`${lines([1, 2, 'z', 4])}\n`), Buffer.from([0xff, 0x0a]), Buffer.from('6\n')]);
    const { result, rejected } = await run(text);
    expect(result.error).toBeInstanceOf(AppError);
    expect(result.error?.message).toContain('line 5 is not valid UTF-8');
    expect(result).toMatchObject({ rows: 4, rejected: 1, counts: { even: 2, odd: 1 }, interrupted: false });
    expect(rejected).toEqual([[3, 'value: must be a number']]);
  });
});

describe('progress and status', () => {
  it('offers progress after every batch, or every progressEvery rows, and finishes it with the totals', async () => {
    const values = Array.from({ length: 10 }, (_, i) => i);
    const batched = await run(lines(values), { batchSize: 3 });
    expect(batched.updates).toHaveLength(4);
    expect(batched.finished).toEqual([
      {
        rows: 10,
        bytes: 0,
        parts: [
          ['even', 5],
          ['odd', 5],
          ['rejected', 0],
        ],
      },
    ]);
    const everyFour = await run(lines(values), { batchSize: 1, progressEvery: 4 });
    expect(everyFour.updates).toHaveLength(2);
    expect(everyFour.updates.map((u) => u.parts[0]![1] + u.parts[1]![1])).toEqual([4, 8]);
  });

  it('starts the status, updates it after each batch and finishes it, interrupted when the input broke', async () => {
    const calls: string[] = [];
    const status = {
      start: async () => void calls.push('start'),
      update: async () => void calls.push('update'),
      finish: async (t: RowJobTotals<Parity>, interrupted: boolean) => void calls.push(`finish ${t.rows} ${interrupted}`),
    };
    await run(lines([1, 2, 3, 4]), { batchSize: 2, status });
    expect(calls[0]).toBe('start');
    expect(calls.filter((c) => c.startsWith('update'))).toHaveLength(2);
    expect(calls.at(-1)).toBe('finish 4 false');
    calls.length = 0;
    await run(Buffer.concat([Buffer.from('1\n'), Buffer.from([0xc3])]), { status });
    expect(calls.at(-1)).toBe('finish 1 true');
  });
});
