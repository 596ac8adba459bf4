/** The fault tests' seed rule (test/helpers/fault-seed.ts): fixed unless a run asks otherwise. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FAULT_SEED, parseFaultSeed } from '../../helpers/fault-seed.js';

describe('parseFaultSeed', () => {
  it('is the fixed default when the variable is unset or empty', () => {
    expect(parseFaultSeed(undefined)).toBe(DEFAULT_FAULT_SEED);
    expect(parseFaultSeed('')).toBe(DEFAULT_FAULT_SEED);
  });

  it('replays a given seed', () => {
    expect(parseFaultSeed('0')).toBe(0);
    expect(parseFaultSeed('4294967295')).toBe(4294967295);
    expect(parseFaultSeed('2718281828')).toBe(2718281828);
  });

  it('draws from the random source only when asked', () => {
    expect(parseFaultSeed('random', () => 0.5)).toBe(2 ** 31);
    expect(parseFaultSeed('random', () => 0.999999999999)).toBeLessThanOrEqual(0xffffffff);
  });

  it.each(['-1', '4294967296', '1.5', 'abc', ' 7', 'RANDOM', '0x10'])('refuses %j', (value) => {
    expect(() => parseFaultSeed(value)).toThrow(/JOINTBAN_FAULT_SEED must be an integer 0\.\.4294967295 or "random"/);
  });
});
