/**
 * The witness's side of `POST /v1/federation/cosignatures` (docs/PROTOCOL.md, "Cosignatures on
 * request"): a member sends checkpoints of one log (its own, or one it mirrors) that carry no
 * cosignature of the witness, and gets back each one the witness can vouch for, cosigned. The
 * witness cosigns what sync gave it (ingest.ts) only at the sizes it happened to pull, so without
 * this a member's own checkpoints, and those it pulled from a peer before the witness saw them,
 * would never carry the cosignature that `jointban verify --require-cosignatures` asks for.
 *
 * The witness vouches for a checkpoint exactly as for one it pulled: it verifies with the origin's
 * key valid at the time of the last entry (PROTOCOL.md, "Key history"), and the tree must be the
 * one it holds at that size, so it is consistent with everything it accepted. A checkpoint beyond
 * what it holds is `not_held` (the member asks again once the witness has synced); a different
 * tree of a size it holds is recorded as `equivocation` of the origin, with the caller as the
 * peer that showed it and both trees as evidence, and never cosigned. The body is peer data: it is
 * parsed defensively, and a request holds at most MAX_COSIGN_NOTES notes of at most
 * MAX_NOTE_CHARS characters, so one request costs a bounded number of signature checks. Those
 * checks are OpenSSL's only (`ed25519VerifyOpenSsl`, PROTOCOL.md "Cosignatures on request"), so a
 * junk note costs what a good one does, and the first note that does not open ends the request:
 * the notes after it are refused unchecked. An honest member never sends a note that does not open.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { bytesEqual, toBase64 } from '../crypto/encoding.js';
import { ed25519VerifyOpenSsl } from '../crypto/index.js';
import { decodeEntry } from '../log/entry.js';
import { isMemberId } from '../log/entry-schema.js';
import { checkpointKeyError, openMemberCheckpoint, type Roster } from '../roster/index.js';
import { CheckpointRepository } from '../store/checkpoint-repository.js';
import { LogReader } from '../store/log-repository.js';
import type { MisbehaviourRepository } from '../store/misbehaviour-repository.js';
import { rootAt } from '../store/proofs.js';
import type { Database } from '../store/tables.js';

export const MAX_COSIGN_NOTES = 32;
export const MAX_NOTE_CHARS = 1024;

export type CosignAnswer = { size: number; status: 'cosigned'; note: string } | { size: number | null; status: 'not_held' | 'refused'; reason: string };

export interface WitnessRequestDeps {
  db: Kysely<Database>;
  roster: () => Roster | undefined;
  /** Appends the witness cosignature to a verified note (roster/witness.ts `cosign`, with the key valid now). */
  cosign: (note: string) => string;
  misbehaviour: MisbehaviourRepository;
  now: () => Date;
  logger: Logger;
}

export interface CosignRequest {
  /** The member whose log the checkpoints are of. */
  origin: string;
  notes: string[];
}

/** Reads the request body: `{"origin": "<member>", "checkpoints": ["<note>", …]}`; undefined when it is not that. */
export function parseCosignRequest(body: unknown): CosignRequest | undefined {
  const { origin, checkpoints: list } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (!isMemberId(origin)) return undefined;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_COSIGN_NOTES) return undefined;
  if (!list.every((n): n is string => typeof n === 'string' && n.length > 0 && n.length <= MAX_NOTE_CHARS)) return undefined;
  return { origin, notes: list };
}

/**
 * Reads the witness's answer to a request of `count` notes (the member's side): exactly `count`
 * answers, in order, each `cosigned` with a size and the note, or `not_held`/`refused` with a size
 * (null when the note could not be read) and a reason. Undefined when it is not that: the answer is
 * peer data, and the caller still checks each cosigned note against the one it sent.
 */
export function parseCosignResponse(body: unknown, count: number): CosignAnswer[] | undefined {
  const list = (typeof body === 'object' && body !== null ? (body as Record<string, unknown>).checkpoints : undefined) as unknown;
  if (!Array.isArray(list) || list.length !== count) return undefined;
  const answers: CosignAnswer[] = [];
  for (const item of list as unknown[]) {
    const { size, status, note, reason } = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const isSize = typeof size === 'number' && Number.isSafeInteger(size) && size >= 0;
    if (status === 'cosigned' && isSize && typeof note === 'string') answers.push({ size, status, note });
    else if ((status === 'not_held' || status === 'refused') && (isSize || size === null) && typeof reason === 'string') answers.push({ size, status, reason });
    else return undefined;
  }
  return answers;
}

/** Answers one request of `caller` for cosignatures of checkpoints of `member`'s log, in the order asked. */
export async function cosignMemberCheckpoints(deps: WitnessRequestDeps, caller: string, member: string, notes: string[]): Promise<CosignAnswer[]> {
  const roster = deps.roster();
  const log = new LogReader(deps.db);
  const held = await log.size(member);
  const answers: CosignAnswer[] = [];
  let unopened: string | undefined;
  for (const note of notes) {
    if (unopened !== undefined) {
      answers.push({ size: null, status: 'refused', reason: `not checked: ${unopened}` });
      continue;
    }
    if (roster === undefined) {
      answers.push({ size: null, status: 'not_held', reason: 'the witness holds no roster yet' });
      continue;
    }
    const opened = openMemberCheckpoint(roster, member, note, ed25519VerifyOpenSsl);
    if (!opened.ok) {
      answers.push({ size: null, status: 'refused', reason: `not a checkpoint of ${member}'s log: ${opened.error}` });
      unopened = 'an earlier checkpoint in this request does not verify';
      continue;
    }
    const cp = opened.checkpoint;
    if (cp.size > held) {
      answers.push({ size: cp.size, status: 'not_held', reason: `the witness holds ${held} entries of ${member}'s log` });
      continue;
    }
    const ours = await rootAt(log, member, cp.size);
    if (!bytesEqual(ours, cp.root)) {
      const accepted = await new CheckpointRepository(deps.db).atSize(member, cp.size);
      const message = `${member} signed a tree of size ${cp.size} that differs from the one the witness holds (${caller} asked for its cosignature)`;
      const fresh = await deps.misbehaviour.record({
        kind: 'equivocation',
        origin: member,
        peer: caller,
        detectedAt: deps.now().toISOString(),
        message,
        evidence: { checkpoint: note, conflictsWith: accepted?.note ?? null, localRoot: toBase64(ours) },
      });
      if (fresh) deps.logger.warn({ kind: 'equivocation', origin: member }, 'misbehaviour detected');
      answers.push({ size: cp.size, status: 'refused', reason: 'equivocation: the witness holds a different tree of that size' });
      continue;
    }
    if (cp.size > 0) {
      const last = await log.entry(member, cp.size);
      const decoded = last ? decodeEntry(last.bytes) : undefined;
      const keyError = decoded?.ok ? checkpointKeyError(opened.key, decoded.entry.time) : 'its last entry cannot be read';
      if (keyError !== undefined) {
        answers.push({ size: cp.size, status: 'refused', reason: keyError });
        continue;
      }
    }
    answers.push({ size: cp.size, status: 'cosigned', note: deps.cosign(note) });
  }
  return answers;
}
