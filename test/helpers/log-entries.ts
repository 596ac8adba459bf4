/**
 * Valid log entries built in memory, for the tests of the log's rules (test/unit/log/) and of the
 * verifier (test/integration/audit/verify-fixtures.ts): entry `seq` is dated `seq` minutes after
 * 2025-01-01 and carries one phone token made of its seq. Pure: no store, no key.
 */
import type { ListingEntry, RetractionEntry } from '../../src/log/entry.js';

const BASE = Date.parse('2025-01-01T00:00:00.000Z');

/** The time of entry `seq`: one a minute from 2025-01-01. */
export const timeOf = (seq: number): string => new Date(BASE + seq * 60_000).toISOString();

export function listing(origin: string, seq: number, overrides: Partial<ListingEntry> = {}): ListingEntry {
  return {
    v: 1,
    kind: 'listing',
    origin,
    seq,
    time: timeOf(seq),
    category: 'fraud',
    severity: 'severe',
    bannedAt: timeOf(seq - 1),
    banUntil: null,
    expiresAt: '2030-01-01T00:00:00.000Z',
    tokens: [{ type: 'phone', epoch: 1, token: seq.toString(16).padStart(32, '0') }],
    ...overrides,
  };
}

export function retraction(origin: string, seq: number, target: number): RetractionEntry {
  return { v: 1, kind: 'retraction', origin, seq, time: timeOf(seq), target, reason: 'appeal_upheld' };
}
