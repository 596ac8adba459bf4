/**
 * The association as witness (C2SP tlog-cosignature): it cosigns every member checkpoint it has
 * verified and accepted, which it only does for a tree consistent with everything it accepted
 * before. Members that require the witness's cosignature act only on cosigned checkpoints, so a
 * member showing different histories to different peers cannot get both cosigned, and the forked
 * one never reaches anyone's check index.
 */
import { cosignCheckpoint, verifyCosignature } from '../log/cosignature.js';
import type { NoteVerifier } from '../log/note.js';
import type { Roster } from '../roster/index.js';
import { fromBase64 } from '../crypto/encoding.js';

/** The cosigner key name of a federation's witness. */
export function witnessName(federation: string): string {
  return `${federation}/witness`;
}

/** The witness of a roster: its association member's key under the witness name. */
export function witnessOf(roster: Roster): NoteVerifier | undefined {
  const association = roster.members.find((m) => m.role === 'association');
  const publicKey = association ? fromBase64(association.publicKey) : undefined;
  return publicKey ? { name: witnessName(roster.federation), publicKey } : undefined;
}

/** Appends the witness cosignature to a checkpoint note the caller has verified. */
export function cosign(note: string, federation: string, secretKey: Uint8Array, now: Date): string {
  return note + cosignCheckpoint(note, { name: witnessName(federation), secretKey }, Math.floor(now.getTime() / 1000));
}

export function isCosigned(note: string, witness: NoteVerifier): boolean {
  return verifyCosignature(note, witness).ok;
}
