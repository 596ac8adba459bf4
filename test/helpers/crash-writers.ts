/**
 * The clients of the crash tests (test/faults/crash*.test.ts): listings and, one time in five,
 * retractions of a listing already acknowledged, against a node that may be SIGKILLed at any
 * moment. What was acknowledged is recorded with the life (start number) it was acknowledged in; a
 * request that got no answer is counted, not failed (the kill may cut it); an answer other than
 * 201/200 is recorded as unexpected. Random choices come from the test's seeded PRNG, in the order
 * the SQLite crash test has always drawn them.
 */
import type { AckedListing } from './crash-store.js';
import { email, listingBody, paymentAccount, type CreatedListingBody } from './fixtures.js';

export interface CrashAck extends AckedListing {
  tokens: CreatedListingBody['tokens'];
}

export interface CrashWriters {
  readonly acks: Map<string, CrashAck>;
  /** Answers other than 201/200 (or a lost connection): none is expected. */
  readonly unexpected: string[];
  /** Writes that got no answer (cut by a kill). */
  readonly uncertain: number;
  /** One operation: a retraction one time in five (a listing while there is none to retract), else a listing. */
  next(): Promise<void>;
}

export interface CrashWritersOptions {
  /** A request to the node with the write key, bounded in time. */
  call: (method: string, path: string, body?: unknown) => Promise<Response>;
  rnd: () => number;
  /** The node's current life, recorded with each acknowledgement. */
  life: () => number;
  /** Makes the identifiers of this test its own (`alipay:<prefix>-<n>`). */
  prefix: string;
}

export function crashWriters({ call, rnd, life, prefix }: CrashWritersOptions): CrashWriters {
  const acks = new Map<string, CrashAck>();
  const unexpected: string[] = [];
  const retracting = new Set<string>();
  let counter = 0;
  let uncertain = 0;

  /** The answer's status and text, or undefined when the connection broke before it was whole. */
  const answer = async (request: Promise<Response>): Promise<{ status: number; text: string } | undefined> => {
    const res = await request.catch(() => undefined);
    const text = await res?.text().catch(() => undefined);
    return res === undefined || text === undefined ? undefined : { status: res.status, text };
  };

  const createOne = async () => {
    const n = ++counter;
    const ids = [paymentAccount(`alipay:${prefix}-${n}`)];
    if (rnd() < 0.5) ids.push(email(`${prefix}-${n}@example.com`));
    const res = await answer(call('POST', '/v1/listings', listingBody({ identifiers: ids })));
    if (res === undefined) uncertain += 1;
    else if (res.status === 201) {
      const created = JSON.parse(res.text) as CreatedListingBody;
      acks.set(created.id, { id: created.id, tokens: created.tokens, life: life(), retracted: 'no' });
    } else unexpected.push(`POST /v1/listings answered ${res.status}: ${res.text.slice(0, 200)}`);
  };

  const retractOne = async () => {
    const candidates = [...acks.values()].filter((a) => a.retracted === 'no' && !retracting.has(a.id));
    if (candidates.length === 0) return createOne();
    const ack = candidates[Math.floor(rnd() * candidates.length)]!;
    retracting.add(ack.id);
    try {
      const res = await answer(call('POST', `/v1/listings/${ack.id}/retract`, { reason: 'appeal_upheld' }));
      if (res === undefined) ack.retracted = 'maybe';
      else if (res.status === 200) ack.retracted = 'yes';
      else unexpected.push(`retract ${ack.id} (never retracted before) answered ${res.status}: ${res.text.slice(0, 200)}`);
    } finally {
      retracting.delete(ack.id);
    }
  };

  return {
    acks,
    unexpected,
    get uncertain() {
      return uncertain;
    },
    next: () => (rnd() < 0.2 ? retractOne() : createOne()),
  };
}

/** What is wrong with a node's answer to `GET /v1/listings/<ack.id>`, or undefined when it is right. */
export async function ackAnswerProblem(ack: CrashAck, res: Response): Promise<string | undefined> {
  const body = (await res.json()) as { status?: string; tokens?: CrashAck['tokens'] };
  if (res.status !== 200) return `GET ${ack.id} (acknowledged in life ${ack.life}): HTTP ${res.status}`;
  if (ack.retracted === 'yes' && body.status !== 'retracted') return `GET ${ack.id}: retraction acknowledged, status ${String(body.status)}`;
  if (ack.retracted === 'no' && body.status !== 'active') return `GET ${ack.id}: never retracted, status ${String(body.status)}`;
  if (JSON.stringify(body.tokens) !== JSON.stringify(ack.tokens)) return `GET ${ack.id}: tokens differ from those acknowledged`;
  return undefined;
}
