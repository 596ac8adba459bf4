/**
 * A member's signing keys over time (docs/PROTOCOL.md, "Key history"): which key verifies which
 * checkpoint, and which keys may sign a federation request now. Pure: times are passed in.
 *
 * The time of a checkpoint is the time of the last entry it covers. Checkpoints carry no time of
 * their own; the last entry's time is signed by the member (it is in the entry bytes the checkpoint
 * commits to), is known to every verifier that holds the tree, and only grows as the log grows, so
 * once the member has appended under its new key, no later tree can be passed off under the old
 * one. A key verifies a checkpoint when validFrom ≤ time < validUntil. The member's first key has no
 * lower bound (its log may predate its roster entry), and a checkpoint of an empty log has no time,
 * so any key of the member verifies it: it commits to nothing.
 */
import { fromBase64 } from '../crypto/encoding.js';
import { logOrigin, openCheckpoint, type OpenedCheckpoint } from '../log/checkpoint.js';
import type { SignatureCheck } from '../log/note.js';
import { findMember } from './lookup.js';
import type { Roster, RosterMember } from './schema.js';

export interface MemberKey {
  publicKey: Uint8Array;
  /** Undefined for the member's first key: valid from the start of its log. */
  validFrom?: string;
  /** Undefined for the current key. */
  validUntil?: string;
}

export type OpenMemberCheckpointResult = { ok: true; checkpoint: OpenedCheckpoint; key: MemberKey } | { ok: false; error: string };

/** Every key of a member, oldest first, the current key last. Empty for an unknown member. */
export function memberKeys(member: RosterMember | undefined): MemberKey[] {
  if (member === undefined) return [];
  const out: MemberKey[] = [];
  for (const [i, k] of (member.previousKeys ?? []).entries()) {
    const publicKey = fromBase64(k.publicKey);
    if (publicKey) out.push(i === 0 ? { publicKey, validUntil: k.validUntil } : { publicKey, validFrom: k.validFrom, validUntil: k.validUntil });
  }
  const current = fromBase64(member.publicKey);
  if (current) out.push(out.length === 0 ? { publicKey: current } : { publicKey: current, ...(member.keyValidFrom !== undefined ? { validFrom: member.keyValidFrom } : {}) });
  return out;
}

/** Whether `key` may have signed a checkpoint whose last entry is dated `time` (undefined: empty log). */
export function keyValidAt(key: MemberKey, time: string | undefined): boolean {
  if (time === undefined) return true;
  const t = Date.parse(time);
  // An unparseable time never widens a key's period.
  if (Number.isNaN(t)) return key.validFrom === undefined && key.validUntil === undefined;
  if (key.validFrom !== undefined && t < Date.parse(key.validFrom)) return false;
  if (key.validUntil !== undefined && t >= Date.parse(key.validUntil)) return false;
  return true;
}

/**
 * The keys that may sign a member's federation requests at `now`: every key not yet retired. A new
 * key is accepted as soon as the roster lists it, even before its checkpoint period starts, so a
 * node can switch at once; during an overlap both keys are accepted.
 */
export function requestKeys(roster: Roster, id: string, now: string): Uint8Array[] {
  const t = Date.parse(now);
  return memberKeys(findMember(roster, id))
    .filter((k) => k.validUntil === undefined || t < Date.parse(k.validUntil))
    .map((k) => k.publicKey);
}

/**
 * Verifies a checkpoint note of `member`'s log with whichever of its keys signed it, and says which
 * key that was, so the caller can then check the key's period against the checkpoint's time. A
 * member has at most a few keys, so trying each costs at most a few signature checks (`check`: see
 * log/note.ts `SignatureCheck`). Never throws.
 */
export function openMemberCheckpoint(roster: Roster, member: string, note: string, check?: SignatureCheck): OpenMemberCheckpointResult {
  const keys = memberKeys(findMember(roster, member));
  if (keys.length === 0) return { ok: false, error: `${member} is not in the roster` };
  let name: string;
  try {
    name = logOrigin(roster.federation, member);
  } catch {
    return { ok: false, error: 'member id is malformed' };
  }
  let error = 'no key of the member verifies it';
  // Newest first: the current key is by far the most likely signer.
  for (const key of [...keys].reverse()) {
    const opened = openCheckpoint(note, { name, publicKey: key.publicKey }, check);
    if (opened.ok) return { ok: true, checkpoint: opened.checkpoint, key };
    error = opened.error;
  }
  return { ok: false, error };
}

/** A one-line reason when a checkpoint's key was not valid at its time; undefined when it was. */
export function checkpointKeyError(key: MemberKey, lastEntryTime: string | undefined): string | undefined {
  if (keyValidAt(key, lastEntryTime)) return undefined;
  const period = `${key.validFrom ?? 'the start of the log'} to ${key.validUntil ?? 'now'}`;
  return `signed with a key valid from ${period}, but its last entry is dated ${lastEntryTime ?? '?'}`;
}
