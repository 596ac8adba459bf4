/**
 * test/vectors/log-validity.json against src/log/validate.ts: each case's log is walked in order as
 * every caller walks one (decode, then the rules against the entries before), and must be valid, or
 * fail first where the vector says, with its code and misbehaviour kind.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toBase64, utf8 } from '../../../src/crypto/encoding.js';
import { generateEd25519KeyPair } from '../../../src/crypto/index.js';
import type { LogEntry } from '../../../src/log/entry.js';
import { checkLogEntryBytes, failureKind, type LogRules } from '../../../src/log/validate.js';
import { addMember, createDraft, rosterFromDraft, suspendMember, type EditResult, type Roster } from '../../../src/roster/index.js';

interface VectorCase {
  comment: string;
  valid: boolean;
  tags: string[];
  members: { id: string; suspendedAt?: string }[];
  origin: string;
  entries: string[];
  failure?: { index: number; code: string; kind: string };
}

const file = JSON.parse(readFileSync(new URL('../../vectors/log-validity.json', import.meta.url), 'utf8')) as { comment: string; cases: VectorCase[] };
const SINCE = '2024-06-01T00:00:00.000Z';

function unwrap(r: EditResult) {
  if (!r.ok) throw new Error(r.error);
  return r.draft;
}

/** A roster with exactly these members (keys are irrelevant to the rules), issued after every time in the vectors. */
function rosterOf(members: VectorCase['members']): Roster {
  const key = () => toBase64(generateEd25519KeyPair().publicKey);
  let draft = unwrap(createDraft('test.jointban.example', { id: 'assoc', name: 'Association', publicKey: key(), endpoint: 'https://assoc.test' }, SINCE));
  for (const m of members) draft = unwrap(addMember(draft, { id: m.id, name: m.id, publicKey: key(), endpoint: `https://${m.id}.test` }, SINCE));
  for (const m of members) if (m.suspendedAt !== undefined) draft = unwrap(suspendMember(draft, m.id, m.suspendedAt));
  const roster = rosterFromDraft(draft, 1, '2026-01-01T00:00:00.000Z');
  if (!roster.ok) throw new Error(roster.error);
  return roster.roster;
}

/** The first failure of the log, as a caller finds it. */
function firstFailure(c: VectorCase): { index: number; code: string; kind: string } | undefined {
  const walked: LogEntry[] = [];
  const rules: LogRules = { origin: c.origin, roster: rosterOf(c.members), earlier: { isListing: (seq) => walked[seq - 1]?.kind === 'listing' } };
  for (const [index, text] of c.entries.entries()) {
    const checked = checkLogEntryBytes(rules, index, utf8(text));
    if (checked.failure !== undefined) return { index, code: checked.failure.code, kind: failureKind(checked.failure) };
    if (checked.ok) walked.push(checked.entry);
  }
  return undefined;
}

describe('log validity vectors', () => {
  it('cover both verdicts and every failure code received bytes can give (a retraction of a later entry is malformed: decoding refuses it)', () => {
    expect(new Set(file.cases.map((c) => c.failure?.code))).toEqual(new Set([undefined, 'malformed', 'foreign_origin', 'wrong_seq', 'target_not_listing', 'unknown_member', 'suspended_member']));
  });

  for (const c of file.cases) {
    it(`${c.valid ? 'valid' : 'invalid'} [${c.tags.join(', ')}]: ${c.comment}`, () => {
      expect(c.valid).toBe(c.failure === undefined);
      expect(firstFailure(c)).toEqual(c.failure);
    });
  }
});
