/**
 * Tokenising on worker threads (service/token-pool.ts) agrees with the node's Tokenizer on the main
 * thread: the same tokens in the same order for every row, and for a row it cannot tokenise the
 * same error code and message. The worker is the compiled one (dist/, built by the suite's global
 * setup): a worker thread cannot load TypeScript, and it is what `jointban import` runs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createHmacTokenDeriver, type EpochSecret } from '../../src/identifiers/tokens.js';
import { Tokenizer, type IdentifierInput } from '../../src/service/tokenizer.js';
import { TokenPool, type TokenResult } from '../../src/service/token-pool.js';
import { BAD_NATIONAL_ID, DEVICE_ID, EMAIL, NATIONAL_ID, PAYMENT_ACCOUNT, PHONE_SPELLINGS } from '../helpers/fixtures.js';
import { identifiersOf, person } from '../bench/synthetic.js';

const WORKER = new URL('../../dist/src/service/token-worker.js', import.meta.url);
// Two epochs: a listing is tokenised under the newest only, and the pool must pick the same one.
const EPOCHS: EpochSecret[] = [
  { epoch: 3, secret: new Uint8Array(32).fill(3) },
  { epoch: 4, secret: new Uint8Array(32).fill(4) },
];
const tokenizer = new Tokenizer(createHmacTokenDeriver(EPOCHS), 'CN');
const pool = new TokenPool({ epochs: EPOCHS, defaultRegion: 'CN', threads: 2, script: WORKER });
afterAll(() => pool.close());

function inProcess(identifiers: IdentifierInput[]): TokenResult {
  try {
    return { tokens: tokenizer.tokensForListing(identifiers).map((t) => ({ type: t.type, epoch: t.epoch, token: t.hex })) };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { error: { code: err.code, message: err.message } };
  }
}

const rows: IdentifierInput[][] = [
  ...Array.from({ length: 200 }, (_, k) => identifiersOf(person(k), k % 4)),
  PHONE_SPELLINGS.map((value) => ({ type: 'phone' as const, value })),
  [
    { type: 'email', value: EMAIL },
    { type: 'national_id', value: NATIONAL_ID },
    { type: 'device_id', value: DEVICE_ID },
    { type: 'payment_account', value: PAYMENT_ACCOUNT },
  ],
  [{ type: 'national_id', value: BAD_NATIONAL_ID }],
  [
    { type: 'email', value: EMAIL },
    { type: 'phone', value: 'not a phone' },
  ],
  [{ type: 'email', value: 'no-at-sign' }],
];

describe('worker tokens', () => {
  it('equal the main thread tokenizer, row by row, errors included', async () => {
    const expected = rows.map(inProcess);
    // The fixture must exercise both outcomes, or the comparison proves little.
    expect(expected.filter((r) => 'error' in r).length).toBe(3);
    expect(await pool.tokensForListings(rows)).toEqual(expected);
  });

  it('keep the order of the rows when a batch is split between workers', async () => {
    const reversed = [...rows].reverse();
    expect(await pool.tokensForListings(reversed)).toEqual(reversed.map(inProcess));
    expect(await pool.tokensForListings([])).toEqual([]);
  });
});
