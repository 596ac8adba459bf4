/**
 * The roster as a C2SP signed note (https://c2sp.org/signed-note; docs/PROTOCOL.md): the
 * text is `jointban-roster/v1\n` + the RFC 8785 canonical JSON of the roster + `\n`, signed with
 * Ed25519 by the federation's trust root under the key name `<federation>/roster`.
 *
 * `parseRosterText` and `openRoster` read data fetched from a file or a peer: they cap the size,
 * accept only the one canonical spelling of a roster and return a typed failure, never throw.
 * `openRoster` checks the signature before it parses any JSON.
 */
import canonicalize from 'canonicalize';
import { utf8 } from '../crypto/encoding.js';
import { ED25519_PUBLIC_KEY_LENGTH } from '../crypto/index.js';
import { parseVerifierKey, signNote, verifierKey, verifyNote, type NoteVerifier } from '../log/note.js';
import { checkRoster, isFederationName, plainMember, type Roster } from './schema.js';

/** The first line of every v1 roster note text (without its newline). */
export const ROSTER_NOTE_HEADER = 'jointban-roster/v1';
export const MAX_ROSTER_TEXT_BYTES = 1024 * 1024;
const KEY_NAME_SUFFIX = '/roster';

/** The federation's trust root: the association's key that signs rosters. */
export interface TrustRoot {
  federation: string;
  /** The note key name, `<federation>/roster`. */
  name: string;
  publicKey: Uint8Array;
}

export type ParseRosterResult = { ok: true; roster: Roster } | { ok: false; error: string };
export type OpenRosterResult = { ok: true; roster: Roster } | { ok: false; error: string };
export type ParseTrustRootResult = { ok: true; trustRoot: TrustRoot } | { ok: false; error: string };

/** The key name that signs a federation's rosters. */
export function rosterKeyName(federation: string): string {
  if (!isFederationName(federation)) throw new TypeError('invalid federation name');
  return `${federation}${KEY_NAME_SUFFIX}`;
}

/** RFC 8785 JSON of exactly the format's fields; undefined if it cannot be canonicalised. */
export function canonicalRosterJson(roster: Roster): string | undefined {
  try {
    return canonicalize({
      federation: roster.federation,
      version: roster.version,
      issuedAt: roster.issuedAt,
      members: roster.members.map(plainMember),
    });
  } catch {
    return undefined;
  }
}

/**
 * The roster note text. Throws a TypeError for a roster that `parseRosterText` would reject, so the
 * association never signs a roster its members refuse.
 */
export function formatRosterText(roster: Roster): string {
  const checked = checkRoster(roster);
  if (!checked.ok) throw new TypeError(`invalid roster: ${checked.error}`);
  const json = canonicalRosterJson(checked.roster);
  if (json === undefined) throw new TypeError('roster cannot be canonicalised');
  return `${ROSTER_NOTE_HEADER}\n${json}\n`;
}

/** Signs a roster with the trust root's 32-byte Ed25519 private key. Throws on an invalid roster. */
export function signRoster(roster: Roster, secretKey: Uint8Array): string {
  return signNote(formatRosterText(roster), [{ name: rosterKeyName(roster.federation), secretKey }]);
}

/** Parses roster note text strictly (one canonical form only). Never throws. */
export function parseRosterText(text: string): ParseRosterResult {
  if (typeof text !== 'string') return { ok: false, error: 'roster must be text' };
  if (text.length > MAX_ROSTER_TEXT_BYTES || utf8(text).length > MAX_ROSTER_TEXT_BYTES) {
    return { ok: false, error: `roster exceeds ${MAX_ROSTER_TEXT_BYTES} bytes` };
  }
  const head = `${ROSTER_NOTE_HEADER}\n`;
  if (!text.startsWith(head)) return { ok: false, error: `roster must start with the line ${ROSTER_NOTE_HEADER}` };
  if (!text.endsWith('\n')) return { ok: false, error: 'roster must end with a newline' };
  const json = text.slice(head.length, -1);
  if (json.includes('\n')) return { ok: false, error: 'roster must be two lines: the header and one line of JSON' };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { ok: false, error: 'roster is not valid JSON' };
  }
  const checked = checkRoster(value);
  if (!checked.ok) return checked;
  if (canonicalRosterJson(checked.roster) !== json) return { ok: false, error: 'roster is not in canonical form (RFC 8785)' };
  return { ok: true, roster: checked.roster };
}

/**
 * Verifies a roster note with the trust root and parses it. The trust root's key name must be
 * `<federation>/roster` for the federation the roster names, so a trust root cannot vouch for
 * another federation's roster. Other signatures on the note (e.g. cosignatures) are ignored.
 * Never throws.
 */
export function openRoster(note: string, trustRoot: NoteVerifier): OpenRosterResult {
  const verified = verifyNote(note, [{ name: trustRoot.name, publicKey: trustRoot.publicKey }]);
  if (!verified.ok) return { ok: false, error: `roster signature: ${verified.error}` };
  const parsed = parseRosterText(verified.text);
  if (!parsed.ok) return parsed;
  if (`${parsed.roster.federation}${KEY_NAME_SUFFIX}` !== trustRoot.name) {
    return { ok: false, error: `roster is for federation ${parsed.roster.federation}, not the trust root's` };
  }
  return parsed;
}

/** The trust root as a Go-style verifier key, `<federation>/roster+<key id>+<base64>`, for configs. */
export function trustRootVerifierKey(federation: string, publicKey: Uint8Array): string {
  return verifierKey(rosterKeyName(federation), publicKey);
}

/**
 * Parses a trust root verifier key (from a node's config). It must be an Ed25519 (type 0x01) key
 * named `<federation>/roster`, and for `federation` when one is given. Never throws.
 */
export function parseTrustRoot(text: string, federation?: string): ParseTrustRootResult {
  const parsed = parseVerifierKey(text);
  if (!parsed.ok) return { ok: false, error: `trust root: ${parsed.error}` };
  if (parsed.type !== 'ed25519' || parsed.publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) {
    return { ok: false, error: 'trust root must be an Ed25519 note key (type 0x01)' };
  }
  if (!parsed.name.endsWith(KEY_NAME_SUFFIX)) return { ok: false, error: `trust root key name must end in ${KEY_NAME_SUFFIX}` };
  const fed = parsed.name.slice(0, -KEY_NAME_SUFFIX.length);
  if (!isFederationName(fed)) return { ok: false, error: 'trust root key name does not name a federation' };
  if (federation !== undefined && fed !== federation) {
    return { ok: false, error: `trust root is for federation ${fed}, not ${federation}` };
  }
  return { ok: true, trustRoot: { federation: fed, name: parsed.name, publicKey: parsed.publicKey } };
}
