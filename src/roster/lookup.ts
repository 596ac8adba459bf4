/**
 * Questions a node asks its current roster (docs/PROTOCOL.md, "Using the roster"): a
 * member's key, its status at a given time, whether one of its log entries is acceptable, and
 * which peers to sync with. Pure: the time is always passed in.
 *
 * The suspension rule: an entry dated at or after the member's `suspendedAt` is refused, earlier
 * entries stay valid, so suspending a member does not rewrite the history peers already hold. A
 * member removed from the roster is unknown, and all its entries are refused.
 */
import { fromBase64 } from '../crypto/encoding.js';
import type { Roster, RosterMember } from './schema.js';

export type MemberStatusAt = 'active' | 'suspended' | 'unknown';
export type EntryAllowedResult = { ok: true } | { ok: false; reason: 'unknown_member' | 'suspended' };

export function findMember(roster: Roster, id: string): RosterMember | undefined {
  return roster.members.find((m) => m.id === id);
}

/**
 * The member's 32-byte Ed25519 public key, whatever its status: entries a suspended member signed
 * before its suspension must still verify. Undefined for an unknown member.
 */
export function memberKey(roster: Roster, id: string): Uint8Array | undefined {
  const member = findMember(roster, id);
  return member === undefined ? undefined : fromBase64(member.publicKey);
}

/**
 * The member's status at `time` (an ISO 8601 time). Suspended when `suspendedAt ≤ time`; a time
 * that cannot be parsed counts as after the suspension, so bad input never lifts one.
 */
export function memberStatusAt(roster: Roster, id: string, time: string): MemberStatusAt {
  const member = findMember(roster, id);
  return member === undefined ? 'unknown' : statusAt(suspendedSince(member), time);
}

/**
 * What of a member decides whether its entries (and so its listings) count: that it is in the
 * roster, and since when it is suspended (null: not suspended). Small enough to be stored, so that
 * a node can tell later which listings a roster change stopped or started counting.
 */
export interface MemberStanding {
  id: string;
  suspendedAt: string | null;
}

export function standingsOf(roster: Roster): MemberStanding[] {
  return roster.members.map((m) => ({ id: m.id, suspendedAt: suspendedSince(m) }));
}

/** The status at `time` of a member with this standing (undefined: not in the roster). */
export function standingStatusAt(standing: MemberStanding | undefined, time: string): MemberStatusAt {
  return standing === undefined ? 'unknown' : statusAt(standing.suspendedAt, time);
}

function suspendedSince(member: RosterMember): string | null {
  return member.status === 'active' || member.suspendedAt === undefined ? null : member.suspendedAt;
}

function statusAt(suspendedAt: string | null, time: string): 'active' | 'suspended' {
  if (suspendedAt === null) return 'active';
  return Date.parse(time) < Date.parse(suspendedAt) ? 'active' : 'suspended';
}

/** Whether a log entry of `origin` (a member id) dated `entryTime` may be accepted. */
export function entryAllowed(roster: Roster, origin: string, entryTime: string): EntryAllowedResult {
  const status = memberStatusAt(roster, origin, entryTime);
  if (status === 'unknown') return { ok: false, reason: 'unknown_member' };
  if (status === 'suspended') return { ok: false, reason: 'suspended' };
  return { ok: true };
}

/** The members a node syncs with: active ones other than itself, in id order. */
export function activePeers(roster: Roster, self: string): RosterMember[] {
  return roster.members.filter((m) => m.status === 'active' && m.id !== self);
}
