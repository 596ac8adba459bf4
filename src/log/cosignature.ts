/**
 * Witness cosignatures, C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature), Ed25519 type
 * 0x04: a note signature line `— <cosigner name> base64(key ID ‖ u64 timestamp ‖ signature)`
 * where the Ed25519 signature covers "cosignature/v1\ntime <timestamp>\n" followed by the whole
 * checkpoint note text. The association cosigns member checkpoints it verified.
 *
 * Verification reads peer data and never throws.
 */
import { bytesEqual, concatBytes, utf8 } from '../crypto/encoding.js';
import { ED25519_SIGNATURE_LENGTH, ed25519PublicKey, ed25519Sign, ed25519Verify } from '../crypto/index.js';
import { parseCheckpoint } from './checkpoint.js';
import { cosignerKeyId, isValidKeyName, parseNote, signatureLine, type NoteSigner, type NoteVerifier } from './note.js';

const TIMESTAMP_LENGTH = 8;

export interface Cosignature {
  name: string;
  /** POSIX seconds at which the cosigner signed. */
  timestamp: number;
}

export type VerifyCosignaturesResult = { ok: true; cosignatures: Cosignature[] } | { ok: false; error: string };
export type VerifyCosignatureResult = { ok: true; timestamp: number } | { ok: false; error: string };

/** The signed message: "cosignature/v1\ntime <t>\n" ‖ checkpoint note text. */
export function cosignatureMessage(checkpointText: string, timeSeconds: number): Uint8Array {
  return utf8(`cosignature/v1\ntime ${timeSeconds}\n${checkpointText}`);
}

/**
 * Returns the cosignature line (ending in a newline) to append to a checkpoint note. The caller must
 * have verified the checkpoint first. Throws a TypeError on a malformed note, key name or time.
 */
export function cosignCheckpoint(checkpointNote: string, cosigner: NoteSigner, timeSeconds: number): string {
  if (!Number.isSafeInteger(timeSeconds) || timeSeconds < 0) throw new TypeError('time must be a non-negative integer');
  if (!isValidKeyName(cosigner.name)) throw new TypeError('invalid cosigner name');
  const note = parseNote(checkpointNote);
  if (!note.ok) throw new TypeError(`cannot cosign: ${note.error}`);
  if (!parseCheckpoint(note.text).ok) throw new TypeError('cannot cosign: the note is not a checkpoint');
  const stamp = new Uint8Array(TIMESTAMP_LENGTH);
  new DataView(stamp.buffer).setBigUint64(0, BigInt(timeSeconds));
  const signature = ed25519Sign(cosigner.secretKey, cosignatureMessage(note.text, timeSeconds));
  const id = cosignerKeyId(cosigner.name, ed25519PublicKey(cosigner.secretKey));
  return signatureLine(cosigner.name, id, concatBytes(stamp, signature));
}

/**
 * Verifies the cosignatures on a note by the given cosigners. Lines by other keys are ignored; a line
 * by a known cosigner that fails rejects the note. The result lists each verified cosigner once,
 * with its latest timestamp; it may be empty. Never throws.
 */
export function verifyCosignatures(note: string, cosigners: readonly NoteVerifier[]): VerifyCosignaturesResult {
  const parsed = parseNote(note);
  if (!parsed.ok) return parsed;
  const known = cosigners.map((c) => ({ ...c, id: cosignerKeyId(c.name, c.publicKey) }));
  const latest = new Map<string, number>();
  for (const sig of parsed.signatures) {
    for (const c of known) {
      if (c.name !== sig.name || !bytesEqual(c.id, sig.keyId)) continue;
      if (sig.signature.length !== TIMESTAMP_LENGTH + ED25519_SIGNATURE_LENGTH) {
        return { ok: false, error: `cosignature by ${c.name} has the wrong length` };
      }
      const stamp = new DataView(sig.signature.buffer, sig.signature.byteOffset, TIMESTAMP_LENGTH).getBigUint64(0);
      if (stamp > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, error: `cosignature by ${c.name} has an invalid time` };
      const timestamp = Number(stamp);
      const message = cosignatureMessage(parsed.text, timestamp);
      if (!ed25519Verify(c.publicKey, message, sig.signature.subarray(TIMESTAMP_LENGTH))) {
        return { ok: false, error: `cosignature by ${c.name} does not verify` };
      }
      latest.set(c.name, Math.max(timestamp, latest.get(c.name) ?? 0));
    }
  }
  return { ok: true, cosignatures: [...latest].map(([name, timestamp]) => ({ name, timestamp })) };
}

/** Verifies that the note carries a valid cosignature by this cosigner. Never throws. */
export function verifyCosignature(note: string, cosigner: NoteVerifier): VerifyCosignatureResult {
  const result = verifyCosignatures(note, [cosigner]);
  if (!result.ok) return result;
  const found = result.cosignatures[0];
  if (found === undefined) return { ok: false, error: `note has no cosignature by ${cosigner.name}` };
  return { ok: true, timestamp: found.timestamp };
}
