/**
 * Progress of a bulk command on stderr: a cli-progress bar with the rate and an ETA when stderr is
 * a terminal, otherwise a plain line every interval (logs and CI keep one line per interval, not
 * a stream of carriage returns). The ETA comes from the bytes read against the file's size, so
 * standard input, whose size is unknown, shows the rate only.
 */
import cliProgress from 'cli-progress';

/** Progress is offered at least every this many rows, also when no batch is written. */
export const PROGRESS_EVERY_ROWS = 1000;

export interface ProgressSnapshot {
  rows: number;
  bytes: number;
  /** The counts shown next to the rows, e.g. listed, skipped, rejected. */
  parts: readonly (readonly [string, number])[];
}

export interface Progress {
  update(snapshot: ProgressSnapshot): void;
  /** Stops the bar (its timer) and prints nothing more. */
  finish(snapshot: ProgressSnapshot): void;
}

export interface ProgressOptions {
  /** The command, first word of each line: `import`, `rescan`. */
  verb: string;
  stream: NodeJS.WriteStream;
  tty: boolean;
  totalBytes: number | undefined;
  /** Plain lines: the least time between two; 0 prints one on every update. */
  intervalMs: number;
  clock?: () => number;
}

export function createProgress(options: ProgressOptions): Progress {
  return options.tty ? barProgress(options) : plainProgress(options);
}

function detail(s: ProgressSnapshot): string {
  return s.parts.map(([label, n]) => `${label} ${n}`).join(', ');
}

function rate(rows: number, ms: number): number {
  return ms > 0 ? Math.round((rows * 1000) / ms) : 0;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** The plain line, e.g. `import: 120000 rows (listed 119987, skipped 10, rejected 3), 5400 rows/s, 37%, about 3m 10s left`. */
export function progressLine(verb: string, s: ProgressSnapshot, elapsedMs: number, totalBytes: number | undefined): string {
  let line = `${verb}: ${s.rows} rows (${detail(s)}), ${rate(s.rows, elapsedMs)} rows/s`;
  if (totalBytes !== undefined && totalBytes > 0 && s.bytes > 0) {
    const share = Math.min(1, s.bytes / totalBytes);
    line += `, ${Math.floor(share * 100)}%, about ${formatDuration((elapsedMs * (1 - share)) / share)} left`;
  }
  return line;
}

function plainProgress(options: ProgressOptions): Progress {
  const clock = options.clock ?? Date.now;
  const started = clock();
  let last = started;
  return {
    update(s) {
      const now = clock();
      if (now - last < options.intervalMs) return;
      last = now;
      options.stream.write(`${progressLine(options.verb, s, now - started, options.totalBytes)}\n`);
    },
    finish() {},
  };
}

function barProgress(options: ProgressOptions): Progress {
  const clock = options.clock ?? Date.now;
  const started = clock();
  const sized = options.totalBytes !== undefined && options.totalBytes > 0;
  const format = sized ? `${options.verb} |{bar}| {percentage}% | {rows} rows ({detail}) | {rate} rows/s | ETA {eta_formatted}` : `${options.verb} {rows} rows ({detail}) | {rate} rows/s`;
  const bar = new cliProgress.SingleBar({ stream: options.stream, format, hideCursor: true, etaBuffer: 100, fps: 5, clearOnComplete: false }, cliProgress.Presets.shades_classic);
  const payload = (s: ProgressSnapshot) => ({ rows: s.rows, detail: detail(s), rate: rate(s.rows, clock() - started) });
  bar.start(sized ? (options.totalBytes ?? 0) : 1, 0, { rows: 0, detail: '', rate: 0 });
  return {
    update(s) {
      bar.update(sized ? s.bytes : 0, payload(s));
    },
    finish(s) {
      bar.update(sized ? (options.totalBytes ?? 0) : 0, payload(s));
      bar.stop();
    },
  };
}
