/** Recorded misbehaviour of peers and origins, with evidence; append-only. */
import type { Kysely } from 'kysely';
import { sha256 } from '../crypto/index.js';
import { toHex, utf8 } from '../crypto/encoding.js';
import type { MisbehaviourKind } from '../log/misbehaviour.js';
import type { Database } from './tables.js';

// The kinds are the core's (the log validation maps its failures to them); re-exported for the shell.
export { MISBEHAVIOUR_KINDS, type MisbehaviourKind } from '../log/misbehaviour.js';

export interface Misbehaviour {
  id: string;
  kind: MisbehaviourKind;
  /** The member id whose log the fault concerns. */
  origin: string;
  /** The peer that served the data, when it came from a peer. */
  peer: string | null;
  detectedAt: string;
  message: string;
  evidence: Record<string, unknown>;
}

export class MisbehaviourRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records a fault once: the same kind, origin, peer and evidence seen again adds nothing. Returns true if new. */
  async record(m: Omit<Misbehaviour, 'id'>): Promise<boolean> {
    const evidence = JSON.stringify(m.evidence);
    const id = toHex(sha256(utf8(`${m.kind}\n${m.origin}\n${m.peer ?? ''}\n${evidence}`))).slice(0, 32);
    const result = await this.db
      .insertInto('misbehaviour')
      .values({ id, kind: m.kind, origin: m.origin, peer: m.peer, detected_at: m.detectedAt, message: m.message, evidence })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async list(limit = 100): Promise<Misbehaviour[]> {
    const rows = await this.db.selectFrom('misbehaviour').selectAll().orderBy('detected_at', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind as MisbehaviourKind,
      origin: r.origin,
      peer: r.peer,
      detectedAt: r.detected_at,
      message: r.message,
      evidence: JSON.parse(r.evidence) as Record<string, unknown>,
    }));
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('misbehaviour')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}
