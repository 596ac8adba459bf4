/**
 * Checkpoints, C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): a signed note whose text is
 * `<origin>\n<tree size>\n<base64 root>\n` followed by optional extension lines. A member's log has
 * the origin `<federation>/<member id>` (e.g. `jointban.example/alpha`), and the key that signs its
 * checkpoints is named by that same origin.
 *
 * `parseCheckpoint` and `openCheckpoint` read peer data and return a typed failure, never throw.
 */
import { fromBase64, toBase64 } from '../crypto/encoding.js';
import { isMemberId } from './entry-schema.js';
import { HASH_LENGTH } from './merkle.js';
import { isValidKeyName, signNote, verifyNote, type NoteSigner, type NoteVerifier, type SignatureCheck } from './note.js';

export const MAX_CHECKPOINT_EXTENSIONS = 16;
const MAX_CHECKPOINT_TEXT = 64 * 1024;
const MAX_ORIGIN_LENGTH = 255;
const SIZE_RE = /^(?:0|[1-9][0-9]{0,15})$/;

export interface Checkpoint {
  origin: string;
  /** Number of leaves in the tree. */
  size: number;
  /** RFC 9162 root hash of the tree, 32 bytes. */
  root: Uint8Array;
  /** Opaque extension lines; jointban writes none. */
  extensions?: readonly string[];
}

/** A checkpoint whose note verified, with the exact note text that was verified. */
export interface OpenedCheckpoint extends Checkpoint {
  note: string;
}

export type ParseCheckpointResult = { ok: true; checkpoint: Checkpoint } | { ok: false; error: string };
export type OpenCheckpointResult = { ok: true; checkpoint: OpenedCheckpoint } | { ok: false; error: string };

/** The checkpoint origin (and key name) of a member's log. */
export function logOrigin(federation: string, memberId: string): string {
  if (!isValidKeyName(federation)) throw new TypeError('invalid federation name');
  if (!isMemberId(memberId)) throw new TypeError('invalid member id');
  return `${federation}/${memberId}`;
}

/** The member id of an origin of this federation, or undefined. */
export function memberOfOrigin(origin: string, federation: string): string | undefined {
  const prefix = `${federation}/`;
  if (typeof origin !== 'string' || !origin.startsWith(prefix)) return undefined;
  const member = origin.slice(prefix.length);
  return isMemberId(member) ? member : undefined;
}

function originError(origin: unknown): string | undefined {
  if (typeof origin !== 'string' || origin.length === 0) return 'checkpoint origin is empty';
  if (origin.length > MAX_ORIGIN_LENGTH) return 'checkpoint origin is too long';
  if (origin.trim() !== origin) return 'checkpoint origin has whitespace at its ends';
  return undefined;
}

/** The checkpoint note text. Throws a TypeError on invalid fields (our own data). */
export function formatCheckpoint(cp: Checkpoint): string {
  if (!isValidKeyName(cp.origin) || originError(cp.origin) !== undefined) throw new TypeError('invalid checkpoint origin');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new TypeError('invalid checkpoint size');
  if (!(cp.root instanceof Uint8Array) || cp.root.length !== HASH_LENGTH) throw new TypeError('root must be 32 bytes');
  const ext = cp.extensions ?? [];
  if (ext.length > MAX_CHECKPOINT_EXTENSIONS || ext.some((l) => l.length === 0 || l.includes('\n'))) {
    throw new TypeError('invalid checkpoint extension lines');
  }
  return [cp.origin, String(cp.size), toBase64(cp.root), ...ext].join('\n') + '\n';
}

/** Parses checkpoint note text strictly. Never throws. */
export function parseCheckpoint(text: string): ParseCheckpointResult {
  if (typeof text !== 'string' || text.length > MAX_CHECKPOINT_TEXT) return { ok: false, error: 'checkpoint is malformed' };
  if (!text.endsWith('\n')) return { ok: false, error: 'checkpoint must end with a newline' };
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) return { ok: false, error: 'checkpoint must have an origin, a size and a root' };
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  const err = originError(origin);
  if (err !== undefined) return { ok: false, error: err };
  if (!SIZE_RE.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    return { ok: false, error: 'checkpoint size must be a decimal integer without leading zeros' };
  }
  const root = fromBase64(rootText);
  if (root === undefined || root.length !== HASH_LENGTH) return { ok: false, error: 'checkpoint root must be 32 bytes of base64' };
  if (extensions.length > MAX_CHECKPOINT_EXTENSIONS) return { ok: false, error: 'checkpoint has too many extension lines' };
  if (extensions.some((l) => l.length === 0)) return { ok: false, error: 'checkpoint extension lines must not be empty' };
  return { ok: true, checkpoint: { origin, size: Number(sizeText), root, extensions } };
}

/** Signs a checkpoint as a note; the signer's key name should be the origin. */
export function signCheckpoint(cp: Checkpoint, signer: NoteSigner): string {
  return signNote(formatCheckpoint(cp), [signer]);
}

/**
 * Verifies a checkpoint note with the log's key and parses it. The key name must equal the origin
 * line, so a member's key cannot vouch for another log. Never throws.
 */
export function openCheckpoint(note: string, verifier: NoteVerifier, check?: SignatureCheck): OpenCheckpointResult {
  const verified = verifyNote(note, [verifier], check);
  if (!verified.ok) return verified;
  const parsed = parseCheckpoint(verified.text);
  if (!parsed.ok) return parsed;
  if (parsed.checkpoint.origin !== verifier.name) return { ok: false, error: 'checkpoint origin does not match the key name' };
  return { ok: true, checkpoint: { ...parsed.checkpoint, note } };
}
