/**
 * The fuzzing budget (docs/FUZZING.md): at least 10,000 property cases per run, and every property
 * of the budget is run by exactly one test. Each property checks for itself that it ran all of
 * its cases (fuzz-config.ts), so the sum below is what a run executes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FUZZ_BUDGET, FUZZ_SEED, propertySeed } from './fuzz-config.js';

const ROOT = new URL('../', import.meta.url);
const SOURCES = [...readdirSync(new URL('fuzz/', ROOT)).map((f) => `fuzz/${f}`), ...readdirSync(new URL('integration/', ROOT)).map((f) => `integration/${f}`)].filter((f) => f.endsWith('.test.ts'));

describe('fuzzing budget', () => {
  it('adds up to at least 10,000 cases per run', () => {
    const total = Object.values(FUZZ_BUDGET).reduce((a, b) => a + b, 0);
    console.log(`fuzz total: ${total} property cases in ${Object.keys(FUZZ_BUDGET).length} properties (FUZZ_SEED=${FUZZ_SEED})`);
    expect(total).toBeGreaterThanOrEqual(10_000);
  });

  it('every budgeted property is run by exactly one test', () => {
    const text = SOURCES.map((f) => readFileSync(new URL(f, ROOT), 'utf8')).join('\n');
    for (const name of Object.keys(FUZZ_BUDGET)) {
      const calls = text.split(new RegExp(`fuzz(?:Async)?\\(\\s*'${name.replace(/\./g, '\\.')}'`)).length - 1;
      expect(calls, `calls of property ${name}`).toBe(1);
    }
  });

  it('derives a distinct, reproducible seed per property', () => {
    const seeds = Object.keys(FUZZ_BUDGET).map((name) => propertySeed(name));
    expect(new Set(seeds).size).toBe(seeds.length);
    expect(propertySeed('entry.mutation', 1)).toBe(propertySeed('entry.mutation', 1));
    expect(propertySeed('entry.mutation', 1)).not.toBe(propertySeed('entry.mutation', 2));
  });
});
