/**
 * The association's edits to its working copy of the roster (docs/PROTOCOL.md, "Managing
 * the roster"): create, add, suspend, remove, and turning the copy into a roster to sign. Pure: the
 * CLI (src/cli/roster.ts) reads and writes the files and passes the time in.
 *
 * Every edit returns the whole new draft, validated by the same rules a receiving node applies, or
 * a failure whose `code` is the AppError code the CLI reports.
 */
import canonicalize from 'canonicalize';
import { fromBase64, fromHex, toBase64 } from '../crypto/encoding.js';
import { ED25519_PUBLIC_KEY_LENGTH } from '../crypto/index.js';
import { checkRoster, checkRosterDraft, isEndpoint, MAX_PREVIOUS_KEYS, plainMember, type CheckRosterResult, type Roster, type RosterDraft, type RosterMember } from './schema.js';

export type EditFailureCode = 'invalid_input' | 'conflict' | 'not_found';
export type EditResult = { ok: true; draft: RosterDraft } | { ok: false; code: EditFailureCode; error: string };

/** A member as the association enters it; the key is already base64 (see parsePublicKeyInput). */
export interface NewMember {
  id: string;
  name: string;
  publicKey: string;
  endpoint: string;
}

function fail(code: EditFailureCode, error: string): EditResult {
  return { ok: false, code, error };
}

/** Sorts by id in UTF-16 code unit order (ids are ASCII, so this is also byte order) and validates. */
function finish(federation: string, members: RosterMember[]): EditResult {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const checked = checkRosterDraft({ federation, members: sorted });
  if (!checked.ok) return fail('invalid_input', checked.error);
  return { ok: true, draft: checked.draft };
}

function newMember(m: NewMember, role: RosterMember['role'], now: string): RosterMember {
  return { id: m.id, name: m.name, role, publicKey: m.publicKey, endpoint: m.endpoint, status: 'active', since: now };
}

/** A first working copy holding only the association itself. */
export function createDraft(federation: string, association: NewMember, now: string): EditResult {
  return finish(federation, [newMember(association, 'association', now)]);
}

export function addMember(draft: RosterDraft, member: NewMember, now: string): EditResult {
  if (draft.members.some((m) => m.id === member.id)) return fail('conflict', `member ${member.id} is already in the roster`);
  const holder = keyHolder(draft, member.publicKey);
  if (holder) return fail('conflict', `that public key already belongs to member ${holder.id}`);
  return finish(draft.federation, [...draft.members, newMember(member, 'member', now)]);
}

function keyHolder(draft: RosterDraft, publicKey: string): RosterMember | undefined {
  return draft.members.find((m) => m.publicKey === publicKey || (m.previousKeys ?? []).some((k) => k.publicKey === publicKey));
}

/**
 * Gives a member a new signing key valid from `at`; its current key becomes a previous key valid
 * until `retireAt` (≥ `at`: the overlap in which both keys sign, while the member's node switches).
 * The oldest previous keys are dropped beyond MAX_PREVIOUS_KEYS: their checkpoints stop verifying.
 */
export function rotateKey(draft: RosterDraft, id: string, publicKey: string, at: string, retireAt: string): EditResult {
  const member = draft.members.find((m) => m.id === id);
  if (!member) return fail('not_found', `no member ${id} in the roster`);
  const holder = keyHolder(draft, publicKey);
  if (holder) return fail('conflict', `that public key already belongs to member ${holder.id}`);
  const currentFrom = member.keyValidFrom ?? member.since;
  if (at <= currentFrom) return fail('invalid_input', `the new key must become valid after the current key did (${currentFrom})`);
  if (retireAt < at) return fail('invalid_input', 'the old key must not be retired before the new key becomes valid');
  const previous = [...(member.previousKeys ?? []), { publicKey: member.publicKey, validFrom: currentFrom, validUntil: retireAt }].slice(-MAX_PREVIOUS_KEYS);
  const rotated: RosterMember = { ...plainMember(member), publicKey, keyValidFrom: at, previousKeys: previous };
  return finish(
    draft.federation,
    draft.members.map((m) => (m.id === id ? rotated : m)),
  );
}

/**
 * Moves a previous key's end to `at`, e.g. to end an overlap early or to cut off a compromised key
 * from the time it leaked: checkpoints whose last entry is dated from then on stop verifying.
 */
export function retireKey(draft: RosterDraft, id: string, publicKey: string, at: string): EditResult {
  const member = draft.members.find((m) => m.id === id);
  if (!member) return fail('not_found', `no member ${id} in the roster`);
  if (member.publicKey === publicKey) return fail('invalid_input', `that is ${id}'s current key: rotate to a new key first`);
  const previous = member.previousKeys ?? [];
  if (!previous.some((k) => k.publicKey === publicKey)) return fail('not_found', `${id} has no previous key ${publicKey}`);
  const updated: RosterMember = { ...plainMember(member), previousKeys: previous.map((k) => (k.publicKey === publicKey ? { ...k, validUntil: at } : k)) };
  return finish(
    draft.federation,
    draft.members.map((m) => (m.id === id ? updated : m)),
  );
}

/** Suspends a member from `at` on: its entries dated at or after `at` are refused by every node. */
export function suspendMember(draft: RosterDraft, id: string, at: string): EditResult {
  const member = draft.members.find((m) => m.id === id);
  if (!member) return fail('not_found', `no member ${id} in the roster`);
  if (member.role === 'association') return fail('invalid_input', 'the association cannot be suspended');
  if (member.status === 'suspended') return fail('conflict', `member ${id} is already suspended (since ${member.suspendedAt ?? '?'})`);
  if (at < member.since) return fail('invalid_input', `the suspension time must not be before the member joined (${member.since})`);
  const members = draft.members.map((m) => (m.id === id ? { ...plainMember(m), status: 'suspended' as const, suspendedAt: at } : m));
  return finish(draft.federation, members);
}

/** Removes a member: once signed, every node refuses all of its entries, old and new. */
export function removeMember(draft: RosterDraft, id: string): EditResult {
  const member = draft.members.find((m) => m.id === id);
  if (!member) return fail('not_found', `no member ${id} in the roster`);
  if (member.role === 'association') return fail('invalid_input', 'the association cannot be removed from its own roster');
  return finish(
    draft.federation,
    draft.members.filter((m) => m.id !== id),
  );
}

/** The roster to sign from a working copy. */
export function rosterFromDraft(draft: RosterDraft, version: number, issuedAt: string): CheckRosterResult {
  return checkRoster({ federation: draft.federation, version, issuedAt, members: draft.members });
}

/** Whether the working copy lists exactly the members of a signed roster. */
export function draftMatchesRoster(draft: RosterDraft, roster: Roster): boolean {
  return draft.federation === roster.federation && canonicalize(draft.members.map(plainMember)) === canonicalize(roster.members.map(plainMember));
}

/**
 * A public key as an operator types it: 64 hex digits (as `jointban init` prints it; either case)
 * or canonical base64 of 32 bytes. Returns the roster's spelling (base64), or undefined.
 */
export function parsePublicKeyInput(text: string): string | undefined {
  const trimmed = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(trimmed) ? fromHex(trimmed.toLowerCase()) : fromBase64(trimmed);
  return bytes?.length === ED25519_PUBLIC_KEY_LENGTH ? toBase64(bytes) : undefined;
}

/**
 * An endpoint as an operator types it, in the roster's one spelling: the WHATWG URL parser lowers
 * the scheme and host and drops a default port, and a trailing slash is removed. Credentials, a
 * query or a fragment are refused rather than dropped, since the operator meant something by them.
 */
export function normaliseEndpointInput(text: string): string | undefined {
  const trimmed = text.trim();
  if (/[?#]/.test(trimmed)) return undefined;
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  const endpoint = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  return isEndpoint(endpoint) ? endpoint : undefined;
}
