/**
 * Which token epochs each member holds (docs/PROTOCOL.md, "Held token epochs"): a node names the
 * epoch numbers it holds in its checkpoint list, and every node compares its peers' with its own,
 * so the association sees which members still lack a new epoch, or still hold a retired one,
 * without asking. Numbers only, never secrets. A member's list is its own statement: nothing
 * proves it holds the secrets it names (docs/SECURITY.md).
 */
import { MAX_TOKENS } from '../log/entry-schema.js';

/** No node can use more: a listing carries a token per identifier and epoch, at most 32 (config/schema.ts). */
export const MAX_HELD_EPOCHS = MAX_TOKENS;
const MAX_EPOCH = 0xffff_ffff;

export type HeldEpochsResult = { ok: true; epochs: number[] | null } | { ok: false; error: string };

/**
 * The `epochs` field of a peer's checkpoint list (peer data): absent (a node of an earlier version)
 * gives null; present, it must be 1 to 32 epoch numbers in ascending order without repeats.
 */
export function parseHeldEpochs(value: unknown): HeldEpochsResult {
  if (value === undefined) return { ok: true, epochs: null };
  if (!Array.isArray(value) || value.length < 1 || value.length > MAX_HELD_EPOCHS) {
    return { ok: false, error: `epochs must be an array of 1 to ${MAX_HELD_EPOCHS} epoch numbers` };
  }
  let previous = 0;
  for (const e of value as unknown[]) {
    if (typeof e !== 'number' || !Number.isInteger(e) || e < 1 || e > MAX_EPOCH) return { ok: false, error: `epochs must hold integers from 1 to ${MAX_EPOCH}` };
    if (e <= previous) return { ok: false, error: 'epochs must be in ascending order without repeats' };
    previous = e;
  }
  return { ok: true, epochs: [...(value as number[])] };
}

export interface MemberEpochs {
  member: string;
  /** What the member named at its last successful sync round; null: not known yet, or a node of an earlier version. */
  held: number[] | null;
  /** Epochs this node holds that the member does not name (empty when `held` is null). */
  missing: number[];
  /** Epochs the member names that this node does not hold (e.g. one this node has retired). */
  extra: number[];
}

export interface EpochsStatus {
  /** The epochs this node holds, ascending. */
  held: number[];
  /** Every peer this node syncs with, by member id. */
  members: MemberEpochs[];
}

export function epochsStatus(held: readonly number[], peers: readonly { member: string; epochs: number[] | null }[]): EpochsStatus {
  const own = new Set(held);
  const members = [...peers]
    .sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : 0))
    .map(({ member, epochs }) => {
      if (epochs === null) return { member, held: null, missing: [], extra: [] };
      const theirs = new Set(epochs);
      return { member, held: [...epochs], missing: held.filter((e) => !theirs.has(e)), extra: epochs.filter((e) => !own.has(e)) };
    });
  return { held: [...held], members };
}
