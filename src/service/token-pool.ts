/**
 * Tokenising on worker threads, for the bulk import (docs/IMPORT.md): normalising and HMAC-ing a
 * row's identifiers is most of the CPU an import spends outside SQLite, and it needs nothing from
 * the database, so it runs on the other cores while the main thread reads rows and writes batches.
 * Each worker holds the same Tokenizer as the node (token-worker.ts), so the tokens, and the errors
 * a row is rejected with, are the ones `ListingService.prepareListing` would derive itself (a test
 * holds the two equal).
 *
 * A job is a list of rows' identifiers; its results come back in the same order. Rows are split
 * into one job per worker, so a batch uses every worker.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../errors.js';
import type { EpochSecret } from '../identifiers/tokens.js';
import type { IdentifierType } from '../identifiers/types.js';
import type { IdentifierInput } from './tokenizer.js';

/** The tokens of one listing as its log entry carries them, or the error tokenising it raised. */
export type TokenResult =
  | { tokens: { type: IdentifierType; epoch: number; token: string }[] }
  | { error: { code: ErrorCode; message: string } };

export interface TokenJob {
  id: number;
  lists: IdentifierInput[][];
}

type Reply = { id: number; results: TokenResult[] } | { id: number; failure: string };

interface Waiting {
  resolve: (results: TokenResult[]) => void;
  reject: (err: Error) => void;
}

/** Workers for a machine: every core but the one the main thread reads and writes on, at least one. */
export function defaultTokenThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export class TokenPool {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private failed: Error | undefined;

  constructor(options: { epochs: readonly EpochSecret[]; defaultRegion: string; threads: number; script?: URL }) {
    const script = options.script ?? new URL('./token-worker.js', import.meta.url);
    const workerData = { epochs: options.epochs, defaultRegion: options.defaultRegion };
    this.workers = Array.from({ length: options.threads }, () => {
      const worker = new Worker(script, { workerData });
      worker.on('message', (reply: Reply) => this.settle(reply));
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`a tokenising worker exited with code ${code}`));
      });
      return worker;
    });
  }

  /** The tokens of each listing's identifiers under every epoch held, in the order given. */
  async tokensForListings(lists: readonly IdentifierInput[][]): Promise<TokenResult[]> {
    if (lists.length === 0) return [];
    const per = Math.ceil(lists.length / this.workers.length);
    const parts = await Promise.all(
      this.workers.map((worker, w) => {
        const slice = lists.slice(w * per, (w + 1) * per);
        return slice.length === 0 ? Promise.resolve([]) : this.run(worker, slice);
      }),
    );
    return parts.flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private run(worker: Worker, lists: IdentifierInput[][]): Promise<TokenResult[]> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, lists } satisfies TokenJob);
    });
  }

  private settle(reply: Reply): void {
    const waiting = this.waiting.get(reply.id);
    if (!waiting) return;
    this.waiting.delete(reply.id);
    if ('failure' in reply) waiting.reject(new Error(`tokenising failed in a worker: ${reply.failure}`));
    else waiting.resolve(reply.results);
  }

  private fail(err: Error): void {
    this.failed ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}
