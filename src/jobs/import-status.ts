/**
 * The progress of `jointban import`, shared with the node it runs next to (docs/IMPORT.md,
 * "Progress on the node's metrics"). The import is its own process, so it cannot touch the node's
 * metrics registry; it writes its totals to the `node_meta` row `import_status` when it starts,
 * every few seconds between batches and when it ends, and the node reads that row when Prometheus
 * scrapes `GET /metrics`. Only counts and times are stored: nothing from the file.
 */
import type { NodeMetaRepository } from '../store/node-meta-repository.js';
import type { ImportTotals } from './import.js';

export const IMPORT_STATUS_KEY = 'import_status';

/** How often a running import writes its totals; the metrics are at most this stale. */
export const IMPORT_STATUS_INTERVAL_MS = 2_000;

/** An import whose last write is older than this is no longer counted as running (it crashed or was killed). */
export const IMPORT_STALE_MS = 30_000;

export interface ImportStatus extends ImportTotals {
  startedAt: string;
  updatedAt: string;
  /** Null while it runs; set when it ended, finished or interrupted. */
  finishedAt: string | null;
  interrupted: boolean;
}

export class ImportStatusRecorder {
  private status: ImportStatus | undefined;
  private lastWrite = 0;

  constructor(
    private readonly repo: NodeMetaRepository,
    private readonly now: () => Date = () => new Date(),
    private readonly intervalMs = IMPORT_STATUS_INTERVAL_MS,
  ) {}

  private async write(status: ImportStatus): Promise<void> {
    this.status = status;
    this.lastWrite = Date.parse(status.updatedAt);
    await this.repo.put(IMPORT_STATUS_KEY, JSON.stringify(status));
  }

  async start(): Promise<void> {
    const at = this.now().toISOString();
    await this.write({ rows: 0, listed: 0, skipped: 0, rejected: 0, startedAt: at, updatedAt: at, finishedAt: null, interrupted: false });
  }

  /** Writes the totals when the interval has passed since the last write. */
  async update(totals: ImportTotals): Promise<void> {
    const now = this.now();
    if (!this.status || now.getTime() - this.lastWrite < this.intervalMs) return;
    await this.write({ ...this.status, ...pick(totals), updatedAt: now.toISOString() });
  }

  async finish(totals: ImportTotals, interrupted: boolean): Promise<void> {
    if (!this.status) return;
    const at = this.now().toISOString();
    await this.write({ ...this.status, ...pick(totals), updatedAt: at, finishedAt: at, interrupted });
  }
}

function pick(t: ImportTotals): ImportTotals {
  return { rows: t.rows, listed: t.listed, skipped: t.skipped, rejected: t.rejected };
}

const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const time = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

/** The last import's status, or undefined when none ran (or the row is not one this code wrote). */
export async function readImportStatus(repo: NodeMetaRepository): Promise<ImportStatus | undefined> {
  const text = await repo.get(IMPORT_STATUS_KEY);
  if (text === undefined) return undefined;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const { rows, listed, skipped, rejected, startedAt, updatedAt, finishedAt, interrupted } = v;
  if (!count(rows) || !count(listed) || !count(skipped) || !count(rejected) || !time(startedAt) || !time(updatedAt)) return undefined;
  if (finishedAt !== null && !time(finishedAt)) return undefined;
  return { rows, listed, skipped, rejected, startedAt, updatedAt, finishedAt, interrupted: interrupted === true };
}

/** Running: not finished and written to recently (a killed import stops counting after IMPORT_STALE_MS). */
export function importRunning(status: ImportStatus, now: Date): boolean {
  return status.finishedAt === null && now.getTime() - Date.parse(status.updatedAt) < IMPORT_STALE_MS;
}
