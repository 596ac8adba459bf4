/**
 * The worker side of TokenPool (token-pool.ts): the same Tokenizer the node uses, built from the
 * epoch secrets and default region it is handed, tokenising listings' identifiers on its own
 * thread. Messages stay inside the process; a result carries tokens or the AppError a row would
 * get, never an identifier.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { createHmacTokenDeriver, type EpochSecret } from '../identifiers/tokens.js';
import { Tokenizer, type IdentifierInput } from './tokenizer.js';
import type { TokenJob, TokenResult } from './token-pool.js';

const { epochs, defaultRegion } = workerData as { epochs: EpochSecret[]; defaultRegion: string };
const tokenizer = new Tokenizer(createHmacTokenDeriver(epochs), defaultRegion);

function tokenise(identifiers: readonly IdentifierInput[]): TokenResult {
  try {
    return { tokens: tokenizer.tokensForListing(identifiers).map((t) => ({ type: t.type, epoch: t.epoch, token: t.hex })) };
  } catch (err) {
    // An unexpected error is a bug: it fails the job (and the import), as it would on the main thread.
    if (!(err instanceof AppError)) throw err;
    return { error: { code: err.code, message: err.message } };
  }
}

parentPort?.on('message', (job: TokenJob) => {
  try {
    parentPort?.postMessage({ id: job.id, results: job.lists.map(tokenise) });
  } catch (err) {
    parentPort?.postMessage({ id: job.id, failure: err instanceof Error ? err.message : String(err) });
  }
});
