/**
 * Shared settings of the property-based tests (docs/FUZZING.md): how many cases each property
 * runs, and from which seed. The budget below is the only place a property's case count is set;
 * `budget.test.ts` checks that it adds up to at least 10,000 cases and that every property in it
 * is run, and `fuzz()` checks that each property really ran its cases.
 *
 * Seeds are fixed by default so that every CI run tries the same cases; `FUZZ_SEED=<integer>`
 * tries others. Each property's own seed is derived from FUZZ_SEED and the property's name, so a
 * failure is reproduced by running the same file with the FUZZ_SEED it prints.
 */
import fc from 'fast-check';

/** Cases per property, by name. */
export const FUZZ_BUDGET = {
  // Canonical entry encoding (src/log/entry.ts).
  'entry.roundtrip': 1_000,
  'entry.mutation': 3_000,
  'entry.garbage': 1_000,
  // RFC 9162 proofs (src/log/merkle.ts).
  'merkle.inclusion': 500,
  'merkle.consistency': 500,
  'merkle.mutated-proof': 800,
  // Signed notes, checkpoints and cosignatures (src/log/note.ts, checkpoint.ts, cosignature.ts).
  'note.roundtrip': 60,
  'note.mutation': 400,
  'note.garbage': 1_500,
  'checkpoint.roundtrip': 80,
  'checkpoint.mutation': 400,
  'cosignature.mutation': 250,
  // Rosters (src/roster/note.ts).
  'roster.roundtrip': 60,
  'roster.mutation': 200,
  'roster.text-mutation': 800,
  'roster.garbage': 500,
  // Receipts (src/log/receipt.ts).
  'receipt.mutation': 300,
  'receipt.fields': 300,
  // HTTP, in process over a real SQLite file (hono app.request).
  'http.platform': 1_000,
  'http.federation': 800,
  'http.federation-headers': 500,
  'http.watch': 400,
  'http.watch-budget': 80,
  'http.utf8': 300,
  // A hostile peer over real sockets (test/integration/hostile-peer-responses.test.ts).
  'hostile-peer.wrong-types': 100,
} as const satisfies Record<string, number>;

export type FuzzName = keyof typeof FUZZ_BUDGET;

const DEFAULT_SEED = 20_250_601;

function readSeed(): number {
  const text = process.env['FUZZ_SEED'];
  if (text === undefined || text === '') return DEFAULT_SEED;
  if (!/^-?\d{1,10}$/.test(text) || !Number.isSafeInteger(Number(text))) throw new Error(`FUZZ_SEED must be an integer, not ${JSON.stringify(text)}`);
  return Number(text);
}

/** The run's seed: FUZZ_SEED, or the fixed default. */
export const FUZZ_SEED = readSeed();

/** A 32-bit seed for one property: FNV-1a over the run's seed and the property's name. */
export function propertySeed(name: string, seed: number = FUZZ_SEED): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}/${name}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** fast-check parameters of one property: its budgeted runs and derived seed. */
export function fuzzParams<Ts>(name: FuzzName): fc.Parameters<Ts> & { numRuns: number; seed: number } {
  return { numRuns: FUZZ_BUDGET[name], seed: propertySeed(name) };
}

/** Prints how many cases a property ran, so the test output shows the count. */
export function reportFuzzRuns(name: FuzzName, runs: number): void {
  console.log(`fuzz ${name}: ${runs} cases (FUZZ_SEED=${FUZZ_SEED})`);
}

function failure<Ts>(name: FuzzName, details: fc.RunDetails<Ts>): Error {
  const message =
    `fuzz property "${name}" failed with FUZZ_SEED=${FUZZ_SEED} (property seed ${details.seed}).\n` +
    `Reproduce: FUZZ_SEED=${FUZZ_SEED} npx vitest run --config test/vitest.config.ts -t '${name}'\n` +
    (fc.defaultReportMessage(details) ?? 'no report');
  console.error(message);
  const err = new Error(message);
  if (details.errorInstance instanceof Error) err.cause = details.errorInstance;
  return err;
}

function finish<Ts>(name: FuzzName, details: fc.RunDetails<Ts>): void {
  if (details.failed) throw failure(name, details);
  // A property that skipped or stopped early has not run its budget: that must show.
  if (details.numRuns !== FUZZ_BUDGET[name] || details.numSkips !== 0 || details.interrupted) {
    throw new Error(`fuzz property "${name}" ran ${details.numRuns} of ${FUZZ_BUDGET[name]} cases (${details.numSkips} skipped)`);
  }
  reportFuzzRuns(name, details.numRuns);
}

/** Runs a synchronous property with its budget and seed; a failure names the seed to reproduce it. */
export function fuzz<Ts>(name: FuzzName, property: fc.IProperty<Ts>): void {
  finish(name, fc.check(property, fuzzParams<Ts>(name)));
}

/** The same for an asynchronous property. */
export async function fuzzAsync<Ts>(name: FuzzName, property: fc.IAsyncProperty<Ts>): Promise<void> {
  finish(name, await fc.check(property, fuzzParams<Ts>(name)));
}

/**
 * Single-byte changes of `bytes`: at every position, `perPosition` different replacement values
 * (the first of them flips bit `position mod 8`, so across positions every bit is flipped
 * somewhere; then a space, a quote, NUL, the low bit, the high bit, +1).
 */
export function* singleByteMutations(bytes: Uint8Array, perPosition = 7): Generator<{ index: number; value: number; mutated: Uint8Array }> {
  for (let index = 0; index < bytes.length; index++) {
    const original = bytes[index]!;
    const candidates = [original ^ (1 << (index % 8)), 0x20, 0x22, 0x00, original ^ 0x01, original ^ 0x80, (original + 1) & 0xff];
    const values = [...new Set(candidates)].filter((v) => v !== original).slice(0, perPosition);
    for (const value of values) {
      const mutated = bytes.slice();
      mutated[index] = value;
      yield { index, value, mutated };
    }
  }
}

/**
 * `count` values of `arb`, drawn once from the property's seed. Properties whose objects are costly
 * to make (anything signed) mutate a pool of them rather than sign one per case.
 */
export function samplePool<T>(name: FuzzName, arb: fc.Arbitrary<T>, count: number): T[] {
  return fc.sample(arb, { numRuns: count, seed: propertySeed(`${name}/pool`) });
}

/** A random single-byte change of `bytes` (position and a different value). */
export function mutationOf(bytes: Uint8Array): fc.Arbitrary<{ index: number; mutated: Uint8Array }> {
  return fc.record({ index: fc.nat({ max: Math.max(0, bytes.length - 1) }), delta: fc.integer({ min: 1, max: 255 }) }).map(({ index, delta }) => {
    const mutated = bytes.slice();
    mutated[index] = (mutated[index]! + delta) & 0xff;
    return { index, mutated };
  });
}
