/**
 * The association as witness (C2SP tlog-cosignature): it cosigns every member checkpoint it has
 * verified and accepted, which it only does for a tree consistent with everything it accepted
 * before. Members that require the witness's cosignature act only on cosigned checkpoints, so a
 * member showing different histories to different peers cannot get both cosigned, and the forked
 * one never reaches anyone's check index.
 *
 * The witness key is the association's member key, so it rotates with it (PROTOCOL.md, "Key
 * history"): a cosignature counts when one of the association's keys made it and the key's period
 * contains the cosignature's own timestamp.
 */
import { cosignCheckpoint, verifyCosignature } from '../log/cosignature.js';
import type { NoteVerifier } from '../log/note.js';
import { keyValidAt, memberKeys, type MemberKey, type Roster } from './index.js';

/** The witness of a roster: the association's keys under the witness name, with their periods. */
export interface Witness {
  name: string;
  keys: MemberKey[];
}

/** The cosigner key name of a federation's witness. */
export function witnessName(federation: string): string {
  return `${federation}/witness`;
}

export function witnessOf(roster: Roster): Witness | undefined {
  const keys = memberKeys(roster.members.find((m) => m.role === 'association'));
  return keys.length > 0 ? { name: witnessName(roster.federation), keys } : undefined;
}

/** The witness's current key as a plain verifier (for tools that only need today's key). */
export function currentWitnessVerifier(witness: Witness): NoteVerifier | undefined {
  const key = witness.keys.at(-1);
  return key ? { name: witness.name, publicKey: key.publicKey } : undefined;
}

/** Appends the witness cosignature to a checkpoint note the caller has verified. */
export function cosign(note: string, federation: string, secretKey: Uint8Array, now: Date): string {
  return note + cosignCheckpoint(note, { name: witnessName(federation), secretKey }, Math.floor(now.getTime() / 1000));
}

export function isCosigned(note: string, witness: Witness): boolean {
  return witness.keys.some((key) => {
    const verified = verifyCosignature(note, { name: witness.name, publicKey: key.publicKey });
    return verified.ok && keyValidAt(key, new Date(verified.timestamp * 1000).toISOString());
  });
}
