/**
 * The roster format, version 1 (docs/PROTOCOL.md, "Roster"): the member list of a
 * federation, signed by the association. This module holds the types, their limits and one strict
 * validator used both for rosters we build (the association's CLI) and for rosters we receive.
 *
 * `checkRoster` and `checkRosterDraft` read untrusted values and never throw. The shape is a strict
 * zod schema (unknown keys rejected); the rules that span members (sorted unique ids, unique keys,
 * one association, time order) are checked after it, so each failure has one precise message.
 */
import { z } from 'zod';
import { fromBase64 } from '../crypto/encoding.js';
import { ED25519_PUBLIC_KEY_LENGTH } from '../crypto/index.js';
import { isEntryTime, isMemberId } from '../log/entry-schema.js';

/** Same rule as the `federation` key of the node config: a lower-case host-like name. */
export const FEDERATION_PATTERN = /^[a-z0-9][a-z0-9.-]{0,126}$/;
/** `<federation>/roster` is the roster's key name, so no member's log may be named that. */
export const RESERVED_MEMBER_IDS: readonly string[] = ['roster'];
export const MAX_MEMBERS = 1000;
export const MAX_MEMBER_NAME_CODE_POINTS = 100;
export const MAX_ENDPOINT_LENGTH = 2048;
/** A member keeps at most this many earlier keys; older ones are dropped from the roster. */
export const MAX_PREVIOUS_KEYS = 16;

export type MemberRole = 'member' | 'association';
export type MemberStatus = 'active' | 'suspended';

/**
 * An earlier signing key of a member (docs/PROTOCOL.md, "Key history"). It verifies the member's
 * checkpoints whose time (the time of the last entry they cover) is in [validFrom, validUntil).
 */
export interface PreviousKey {
  publicKey: string;
  validFrom: string;
  validUntil: string;
}

export interface RosterMember {
  /** The member id; also the origin of its log entries and its request-signature key id. */
  id: string;
  /** Display name, 1 to 100 printable code points. */
  name: string;
  role: MemberRole;
  /** Base64 (padded, canonical) of the member's current 32-byte Ed25519 public key. */
  publicKey: string;
  /** From when `publicKey` signs checkpoints; absent means from `since` (a roster before rotation). */
  keyValidFrom?: string;
  /** The member's earlier keys, oldest first; absent when the member never rotated its key. */
  previousKeys?: PreviousKey[];
  /** Base URL of the member's node: http(s), no credentials, query, fragment or trailing slash. */
  endpoint: string;
  status: MemberStatus;
  /** When the member joined (UTC, `toISOString` form). */
  since: string;
  /** When the member was suspended; present exactly when `status` is `suspended`. */
  suspendedAt?: string;
}

/** The association's unsigned working copy: a roster without its version and issue time. */
export interface RosterDraft {
  federation: string;
  members: RosterMember[];
}

export interface Roster extends RosterDraft {
  /** ≥ 1; every roster the association signs has a higher version than the one before. */
  version: number;
  /** When the association signed this version (UTC, `toISOString` form). */
  issuedAt: string;
}

export type CheckRosterResult = { ok: true; roster: Roster } | { ok: false; error: string };
export type CheckRosterDraftResult = { ok: true; draft: RosterDraft } | { ok: false; error: string };

export function isFederationName(value: unknown): value is string {
  return typeof value === 'string' && FEDERATION_PATTERN.test(value);
}

/**
 * Display names are shown to operators and auditors: no control, format (bidi overrides,
 * zero-width), surrogate, private-use or line/paragraph separator characters, no white space at the
 * ends, so two names that look alike on screen are alike in bytes too.
 */
const NAME_FORBIDDEN_RE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]/u;

export function isMemberName(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0) return false;
  if (NAME_FORBIDDEN_RE.test(value) || /^\s|\s$/u.test(value)) return false;
  return [...value].length <= MAX_MEMBER_NAME_CODE_POINTS;
}

export function isPublicKeyText(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  return fromBase64(value)?.length === ED25519_PUBLIC_KEY_LENGTH;
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const SEGMENT = '(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})+';
const ENDPOINT_RE = new RegExp(`^https?://(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-f:.]+\\])(?::([1-9][0-9]{0,4}))?(?:/${SEGMENT})*$`);

/**
 * One spelling per endpoint, so peers build request URLs by appending a path to the text: lower-case
 * scheme and host, an explicit port only if non-zero, path segments of unreserved characters or
 * upper-case percent escapes, no trailing slash. The WHATWG parser must also accept it (IPv6).
 */
export function isEndpoint(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > MAX_ENDPOINT_LENGTH) return false;
  const match = ENDPOINT_RE.exec(value);
  if (!match) return false;
  if (match[1] !== undefined && Number(match[1]) > 65535) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

const TIME_MESSAGE = 'must be a UTC time in the form YYYY-MM-DDTHH:MM:SS.sssZ';

const previousKeySchema = z.strictObject({
  publicKey: z.string().refine(isPublicKeyText, 'must be base64 of a 32-byte Ed25519 public key'),
  validFrom: z.string().refine(isEntryTime, TIME_MESSAGE),
  validUntil: z.string().refine(isEntryTime, TIME_MESSAGE),
});

const memberSchema = z.strictObject({
  id: z
    .string()
    .refine(isMemberId, 'must be 2-32 characters of a-z, 0-9 and "-", starting with a letter')
    .refine((id) => !RESERVED_MEMBER_IDS.includes(id), 'is reserved'),
  name: z.string().refine(isMemberName, `must be 1-${MAX_MEMBER_NAME_CODE_POINTS} printable characters without white space at the ends`),
  role: z.enum(['member', 'association']),
  publicKey: z.string().refine(isPublicKeyText, 'must be base64 of a 32-byte Ed25519 public key'),
  keyValidFrom: z.string().refine(isEntryTime, TIME_MESSAGE).optional(),
  previousKeys: z.array(previousKeySchema).min(1, 'must be absent rather than empty').max(MAX_PREVIOUS_KEYS, `must list at most ${MAX_PREVIOUS_KEYS} keys`).optional(),
  endpoint: z.string().refine(isEndpoint, 'must be an http(s) URL without credentials, query, fragment or trailing slash'),
  status: z.enum(['active', 'suspended']),
  since: z.string().refine(isEntryTime, TIME_MESSAGE),
  suspendedAt: z.string().refine(isEntryTime, TIME_MESSAGE).optional(),
});

const draftSchema = z.strictObject({
  federation: z.string().refine(isFederationName, 'must be a lower-case host-like name, e.g. jointban.example'),
  members: z.array(memberSchema).min(1, 'must list at least the association').max(MAX_MEMBERS, `must list at most ${MAX_MEMBERS} members`),
});

const rosterSchema = draftSchema.extend({
  version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  issuedAt: z.string().refine(isEntryTime, TIME_MESSAGE),
});

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'roster is malformed';
  const path = issue.path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
  return `${path || 'roster'}: ${issue.message}`;
}

/** Copies only the fields of the format, in one order, with the optional ones only when present. */
export function plainMember(m: RosterMember): RosterMember {
  const out: RosterMember = {
    id: m.id,
    name: m.name,
    role: m.role,
    publicKey: m.publicKey,
    endpoint: m.endpoint,
    status: m.status,
    since: m.since,
  };
  if (m.keyValidFrom !== undefined) out.keyValidFrom = m.keyValidFrom;
  if (m.previousKeys !== undefined) {
    out.previousKeys = m.previousKeys.map((k) => ({ publicKey: k.publicKey, validFrom: k.validFrom, validUntil: k.validUntil }));
  }
  if (m.suspendedAt !== undefined) out.suspendedAt = m.suspendedAt;
  return out;
}

/**
 * The key history rules: every period starts at or after `since` and ends after it starts,
 * periods are in start order, and the current key starts after every earlier one. Periods may
 * overlap (both keys sign during a rotation) or leave a gap (a compromised key cut short).
 */
function keyHistoryError(m: RosterMember, at: string): string | undefined {
  const previous = m.previousKeys ?? [];
  if (m.keyValidFrom !== undefined && m.keyValidFrom < m.since) return `${at}.keyValidFrom: must not be before since`;
  if (previous.length > 0 && m.keyValidFrom === undefined) return `${at}.keyValidFrom: required when previousKeys is present`;
  for (let k = 0; k < previous.length; k++) {
    const key = previous[k] as PreviousKey;
    const kat = `${at}.previousKeys[${k}]`;
    if (key.validFrom < m.since) return `${kat}.validFrom: must not be before since`;
    if (key.validUntil <= key.validFrom) return `${kat}.validUntil: must be after validFrom`;
    const prev = previous[k - 1];
    if (prev !== undefined && prev.validFrom >= key.validFrom) return `${kat}.validFrom: keys must be in order of validFrom`;
    if (m.keyValidFrom !== undefined && key.validFrom >= m.keyValidFrom) return `${kat}.validFrom: must be before the current key's keyValidFrom`;
  }
  return undefined;
}

/** The rules across members. Times in `toISOString` form compare correctly as strings. */
function membersError(members: readonly RosterMember[], issuedAt: string | undefined): string | undefined {
  const keys = new Set<string>();
  let associations = 0;
  for (let i = 0; i < members.length; i++) {
    const m = members[i] as RosterMember;
    const at = `members[${i}]`;
    const prev = members[i - 1];
    if (prev !== undefined && prev.id === m.id) return `${at}.id: duplicate member id ${m.id}`;
    if (prev !== undefined && prev.id > m.id) return `${at}.id: members must be sorted by id`;
    // A key belongs to one member for ever, so a retired key can never speak for someone else.
    if (keys.has(m.publicKey)) return `${at}.publicKey: duplicate public key`;
    keys.add(m.publicKey);
    for (let k = 0; k < (m.previousKeys ?? []).length; k++) {
      const old = (m.previousKeys as PreviousKey[])[k] as PreviousKey;
      if (keys.has(old.publicKey)) return `${at}.previousKeys[${k}].publicKey: duplicate public key`;
      keys.add(old.publicKey);
    }
    const historyError = keyHistoryError(m, at);
    if (historyError !== undefined) return historyError;
    if (m.role === 'association') {
      associations++;
      if (m.status !== 'active') return `${at}.status: the association cannot be suspended`;
    }
    if (m.status === 'suspended' && m.suspendedAt === undefined) return `${at}.suspendedAt: required when status is suspended`;
    if (m.status === 'active' && m.suspendedAt !== undefined) return `${at}.suspendedAt: only allowed when status is suspended`;
    if (m.suspendedAt !== undefined && m.suspendedAt < m.since) return `${at}.suspendedAt: must not be before since`;
    if (issuedAt !== undefined && m.since > issuedAt) return `${at}.since: must not be after the roster's issuedAt`;
    if (issuedAt !== undefined && m.suspendedAt !== undefined && m.suspendedAt > issuedAt) {
      return `${at}.suspendedAt: must not be after the roster's issuedAt`;
    }
  }
  if (associations !== 1) return `members: must contain exactly one member with role association (found ${associations})`;
  return undefined;
}

/** Validates an untrusted value as a v1 roster. Never throws; returns a fresh plain object. */
export function checkRoster(value: unknown): CheckRosterResult {
  const parsed = rosterSchema.safeParse(value);
  if (!parsed.success) return { ok: false, error: firstIssue(parsed.error) };
  const { federation, version, issuedAt } = parsed.data;
  const members = parsed.data.members.map(plainMember);
  const err = membersError(members, issuedAt);
  if (err !== undefined) return { ok: false, error: err };
  return { ok: true, roster: { federation, version, issuedAt, members } };
}

/** Validates the association's working copy: the roster rules that do not involve issuedAt. */
export function checkRosterDraft(value: unknown): CheckRosterDraftResult {
  const parsed = draftSchema.safeParse(value);
  if (!parsed.success) return { ok: false, error: firstIssue(parsed.error) };
  const members = parsed.data.members.map(plainMember);
  const err = membersError(members, undefined);
  if (err !== undefined) return { ok: false, error: err };
  return { ok: true, draft: { federation: parsed.data.federation, members } };
}
