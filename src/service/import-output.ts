/**
 * Where the bulk commands write: the rejects side file (`row,reason`, RFC 4180 CSV) and the rescan's
 * output. Writes wait for the stream to drain when its buffer is full, so a slow disk slows the
 * command down instead of filling memory.
 */
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { csvRow } from '../common/csv.js';
import { AppError } from '../errors.js';

export interface LineWriter {
  write(text: string): Promise<void>;
  /** Flushes and, for a file, closes it. */
  close(): Promise<void>;
}

function writerFor(stream: Writable, name: string, closeStream: boolean): LineWriter {
  let failure: Error | undefined;
  stream.on('error', (err) => (failure = err));
  const check = () => {
    if (failure) throw new AppError('internal', `${name}: write failed (${(failure as NodeJS.ErrnoException).code ?? failure.message})`);
  };
  return {
    async write(text) {
      check();
      if (!stream.write(text)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            stream.off('drain', done);
            stream.off('error', done);
            resolve();
          };
          stream.once('drain', done);
          stream.once('error', done);
        });
      }
      check();
    },
    async close() {
      check();
      if (closeStream) {
        await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
      } else if (stream.writableNeedDrain) {
        await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
      }
      check();
    },
  };
}

/** Creates (or truncates) a file, failing at once with a one-line reason if it cannot. */
export async function openFileWriter(path: string): Promise<LineWriter> {
  const handle = await open(path, 'w', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new AppError('invalid_input', `${path}: cannot write (${err.code ?? 'error'})`);
  });
  return writerFor(handle.createWriteStream(), path, true);
}

/** Standard output (not closed: the process may still print to it). */
export function stdoutWriter(stream: Writable = process.stdout): LineWriter {
  return writerFor(stream, 'stdout', false);
}

/** The rejects side file: one `row,reason` line per refused row, never any of the row's content. */
export class RejectsFile {
  private constructor(
    readonly path: string,
    private readonly out: LineWriter,
  ) {}

  static async create(path: string): Promise<RejectsFile> {
    const out = await openFileWriter(path);
    // Written even when nothing is refused, so a stale file of an earlier run cannot be mistaken for this one's.
    await out.write(csvRow(['row', 'reason']));
    return new RejectsFile(path, out);
  }

  add(row: number, reason: string): Promise<void> {
    return this.out.write(csvRow([row, reason]));
  }

  close(): Promise<void> {
    return this.out.close();
  }
}

/** The default rejects path: next to the input, or an error for standard input. */
export function defaultRejectsPath(file: string): string {
  if (file === '-') throw new AppError('invalid_input', 'reading standard input: give --rejects PATH for the rejected rows');
  return `${file}.rejects.csv`;
}
