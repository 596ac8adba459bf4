/**
 * The pure log validation (src/log/validate.ts): one describe per rule, each failure with its code,
 * the misbehaviour kind it is recorded as and its message; a run checked in slices finds what a run
 * checked at once finds; the lookup of earlier entries is asked only what `targetsBefore` names.
 */
import { describe, expect, it } from 'vitest';
import { toBase64 } from '../../../src/crypto/encoding.js';
import { generateEd25519KeyPair } from '../../../src/crypto/index.js';
import { encodeEntry, type ListingEntry, type LogEntry, type RetractionEntry } from '../../../src/log/entry.js';
import { checkLogEntry, checkLogEntryBytes, checkRun, describeFailure, failureKind, targetsBefore, type EntryFailure, type LogRules } from '../../../src/log/validate.js';
import { listing, retraction, timeOf } from '../../helpers/log-entries.js';
import { addMember, createDraft, rosterFromDraft, suspendMember, type Roster, type RosterDraft } from '../../../src/roster/index.js';

const KEYS = { assoc: toBase64(generateEd25519KeyPair().publicKey), alpha: toBase64(generateEd25519KeyPair().publicKey) };
const listingOf = (seq: number, origin = 'alpha'): ListingEntry => listing(origin, seq);
const retractionOf = (seq: number, target: number): RetractionEntry => retraction('alpha', seq, target);

function unwrap<T>(r: ({ ok: true } & T) | { ok: false; error: string }): T {
  if (!r.ok) throw new Error(r.error);
  return r;
}

function draftWithAlpha(): RosterDraft {
  const { draft } = unwrap(createDraft('test.jointban.example', { id: 'assoc', name: 'Association', publicKey: KEYS.assoc, endpoint: 'https://assoc.test' }, timeOf(0)));
  return unwrap(addMember(draft, { id: 'alpha', name: 'Alpha', publicKey: KEYS.alpha, endpoint: 'https://alpha.test' }, timeOf(0))).draft;
}

const roster = (draft: RosterDraft): Roster => unwrap(rosterFromDraft(draft, 1, timeOf(100))).roster;

/** The rules of alpha's log whose earlier entries are `log` (seq 1 first). */
function rulesOver(log: readonly LogEntry[], r: Roster | undefined = roster(draftWithAlpha())): LogRules {
  return { origin: 'alpha', roster: r, earlier: { isListing: (seq) => log[seq - 1]?.kind === 'listing' } };
}

describe('a valid log', () => {
  it('listings and a retraction of an earlier listing belong, in any roster state before a suspension', () => {
    const log = [listingOf(1), listingOf(2), retractionOf(3, 1), retractionOf(4, 1)];
    for (const [i, e] of log.entries()) expect(checkLogEntry(rulesOver(log), i, e)).toBeUndefined();
    expect(checkRun({ origin: 'alpha', roster: roster(draftWithAlpha()), before: { isListing: () => false }, start: 0, entries: log })).toBeUndefined();
  });
});

describe('origin', () => {
  it("an entry claiming another member's log is foreign_origin", () => {
    const failure = checkLogEntry(rulesOver([]), 0, listingOf(1, 'beta'));
    expect(failure).toEqual({ code: 'foreign_origin', claimed: 'beta' });
    expect(failureKind(failure!)).toBe('foreign_origin');
    expect(describeFailure('alpha', 0, failure!)).toBe("entry 0 of alpha's log claims origin beta");
  });
});

describe('position', () => {
  it('an entry whose seq is not its index + 1 is a bad entry', () => {
    const failure = checkLogEntry(rulesOver([]), 0, listingOf(2));
    expect(failure).toEqual({ code: 'wrong_seq', seq: 2 });
    expect(failureKind(failure!)).toBe('bad_entry');
    expect(describeFailure('alpha', 0, failure!)).toBe('entry 0 of alpha has seq 2, expected 1');
  });
});

describe('retraction target', () => {
  it('a retraction of a retraction is a bad entry', () => {
    const log = [listingOf(1), retractionOf(2, 1)];
    const failure = checkLogEntry(rulesOver(log), 2, retractionOf(3, 2));
    expect(failure).toEqual({ code: 'target_not_listing', target: 2 });
    expect(failureKind(failure!)).toBe('bad_entry');
    expect(describeFailure('alpha', 2, failure!)).toBe('retraction 2 of alpha targets seq 2, which is not a listing');
  });

  it('a retraction of itself or a later entry is a bad entry (built in memory: decoding refuses it first)', () => {
    for (const target of [3, 4]) {
      const failure = checkLogEntry(rulesOver([listingOf(1), listingOf(2)]), 2, retractionOf(3, target));
      expect(failure).toEqual({ code: 'target_not_earlier', target });
      expect(failureKind(failure!)).toBe('bad_entry');
    }
  });

  it('a retraction of an entry the lookup does not know as a listing (an invalid one) is a bad entry', () => {
    const rules: LogRules = { origin: 'alpha', roster: undefined, earlier: { isListing: () => false } };
    expect(checkLogEntry(rules, 1, retractionOf(2, 1))).toEqual({ code: 'target_not_listing', target: 1 });
  });
});

describe('roster period', () => {
  it('an entry dated at or after its origin’s suspension is suspended_member; earlier ones belong', () => {
    const suspended = roster(unwrap(suspendMember(draftWithAlpha(), 'alpha', timeOf(2))).draft);
    const log = [listingOf(1), listingOf(2), listingOf(3)];
    expect(checkLogEntry(rulesOver(log, suspended), 0, log[0]!)).toBeUndefined();
    for (const i of [1, 2]) {
      const failure = checkLogEntry(rulesOver(log, suspended), i, log[i]!);
      expect(failure).toEqual({ code: 'suspended_member', time: timeOf(i + 1) });
      expect(failureKind(failure!)).toBe('suspended_member');
    }
    expect(describeFailure('alpha', 1, { code: 'suspended_member', time: timeOf(2) })).toBe(`entry 1 of alpha is dated ${timeOf(2)}, at or after its suspension`);
  });

  it('an entry of an origin not in the roster is unknown_member', () => {
    const { draft } = unwrap(createDraft('test.jointban.example', { id: 'assoc', name: 'Association', publicKey: KEYS.assoc, endpoint: 'https://assoc.test' }, timeOf(0)));
    const failure = checkLogEntry(rulesOver([], roster(draft)), 0, listingOf(1));
    expect(failure).toEqual({ code: 'unknown_member' });
    expect(failureKind(failure!)).toBe('unknown_member');
  });

  it('without a roster the period is not checked', () => {
    const { draft } = unwrap(createDraft('test.jointban.example', { id: 'assoc', name: 'Association', publicKey: KEYS.assoc, endpoint: 'https://assoc.test' }, timeOf(0)));
    expect(checkLogEntry(rulesOver([], roster(draft)), 0, listingOf(1))).toBeDefined();
    expect(checkLogEntry(rulesOver([], undefined), 0, listingOf(1))).toBeUndefined();
  });

  it('position and target are checked before the roster: one failure per entry, the first rule it breaks', () => {
    const suspended = roster(unwrap(suspendMember(draftWithAlpha(), 'alpha', timeOf(0))).draft);
    const log = [listingOf(1), retractionOf(2, 1)];
    expect(checkLogEntry(rulesOver(log, suspended), 2, retractionOf(3, 2))?.code).toBe('target_not_listing');
    expect(checkLogEntry(rulesOver(log, suspended), 2, listingOf(3, 'beta'))?.code).toBe('foreign_origin');
  });
});

describe('bytes', () => {
  it('bytes that do not decode are malformed, a bad entry', () => {
    const checked = checkLogEntryBytes(rulesOver([]), 0, new TextEncoder().encode('{"v":1}'));
    expect(checked.ok).toBe(false);
    const failure: EntryFailure = checked.failure!;
    expect(failure.code).toBe('malformed');
    expect(failureKind(failure)).toBe('bad_entry');
    expect(describeFailure('alpha', 0, failure)).toMatch(/^entry 0 of alpha is malformed: /);
  });

  it('bytes that decode are checked against the log', () => {
    expect(checkLogEntryBytes(rulesOver([]), 0, encodeEntry(listingOf(1)))).toEqual({ ok: true, entry: listingOf(1), failure: undefined });
    expect(checkLogEntryBytes(rulesOver([]), 0, encodeEntry(listingOf(2)))).toMatchObject({ ok: true, failure: { code: 'wrong_seq', seq: 2 } });
  });
});

describe('a run', () => {
  // Entries 1-3 before the run: listing, listing, retraction of 1. The run starts at index 3.
  const before = [listingOf(1), listingOf(2), retractionOf(3, 1)];
  const run = (entries: LogEntry[]) => ({
    origin: 'alpha',
    roster: undefined,
    before: { isListing: (seq: number) => before[seq - 1]?.kind === 'listing' },
    start: 3,
    entries,
  });

  it('retractions are checked against entries before the run and earlier in it', () => {
    const entries = [listingOf(4), retractionOf(5, 2), retractionOf(6, 4), listingOf(7)];
    const asked: number[] = [];
    const isListing = (seq: number): boolean => {
      asked.push(seq);
      return before[seq - 1]?.kind === 'listing';
    };
    const recording = { ...run(entries), before: { isListing } };
    expect(checkRun(recording)).toBeUndefined();
    // Only what targetsBefore names is asked of the store's lookup; target 4 is the run's own.
    expect(targetsBefore(3, entries)).toEqual([2]);
    expect(asked).toEqual([2]);
  });

  it('the first failure is found with its index, whether the run is checked at once or in slices', () => {
    const entries = [listingOf(4), listingOf(5), retractionOf(6, 3), listingOf(8)];
    const whole = checkRun(run(entries));
    expect(whole).toEqual({ index: 5, failure: { code: 'target_not_listing', target: 3 } });
    let sliced: ReturnType<typeof checkRun>;
    for (let at = 0; at < entries.length && sliced === undefined; at += 1) sliced = checkRun(run(entries), at, at + 1);
    expect(sliced).toEqual(whole);
  });

  it('a retraction of a retraction inside the run is a bad entry', () => {
    expect(checkRun(run([listingOf(4), retractionOf(5, 4), retractionOf(6, 5)]))).toEqual({ index: 5, failure: { code: 'target_not_listing', target: 5 } });
  });
});
