/**
 * The seed of a fault test's random choices (test/faults: which moment a node is killed at, which
 * operation comes next). Fixed by default, so every run, CI's included, tries the same schedule
 * and a red run is not a dice roll; `JOINTBAN_FAULT_SEED=<integer>` replays a seed a run printed,
 * `JOINTBAN_FAULT_SEED=random` draws a new one to explore. The wall clock still decides where a
 * SIGKILL lands within an operation, so a replay repeats the choices, not every interleaving.
 */

export const FAULT_SEED_ENV = 'JOINTBAN_FAULT_SEED';
/** The schedule every default run tries. */
export const DEFAULT_FAULT_SEED = 13;

/** Reads the seed from `value` (the variable's content); throws on anything but a u32, `random` or nothing. */
export function parseFaultSeed(value: string | undefined, random: () => number = () => Math.random()): number {
  if (value === undefined || value === '') return DEFAULT_FAULT_SEED;
  if (value === 'random') return Math.floor(random() * 2 ** 32) >>> 0;
  if (!/^[0-9]{1,10}$/.test(value) || Number(value) > 0xffffffff) {
    throw new Error(`${FAULT_SEED_ENV} must be an integer 0..4294967295 or "random", not ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** The seed for the fault test `name`, printed with the variable that replays it. */
export function faultSeed(name: string): number {
  const seed = parseFaultSeed(process.env[FAULT_SEED_ENV]);
  process.stdout.write(`${name}: seed ${seed} (replay: ${FAULT_SEED_ENV}=${seed})\n`);
  return seed;
}
