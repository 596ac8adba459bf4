/**
 * A known history for the audit tests, on a test node with a controllable clock: listings of the
 * node's own member `alpha` before and in March 2025 (with a burst on 03-10), retractions at known
 * delays, listings of another origin `beta` written as sync would write them (one sharing tokens
 * with alpha's listings, one sharing a token only under another epoch), misbehaviour recorded
 * against `gamma`, and checks through the API and in-process. `EXPECTED` is what the report of
 * March 2025 must say, worked out by hand from this history (see the comments).
 */
import type { Kysely } from 'kysely';
import { expect } from 'vitest';
import { encodeEntry, type ListingEntry, type LogEntry } from '../../src/log/entry.js';
import { ListingWriter } from '../../src/store/listing-repository.js';
import { LogWriter } from '../../src/store/log-repository.js';
import type { Database } from '../../src/store/tables.js';
import { email, json, listingBody, nationalId, NATIONAL_ID, phone, type CheckBody, type CreatedListingBody, type Identifier } from './fixtures.js';
import type { TestNode } from './test-node.js';

export const WINDOW = { from: '2025-03-01T00:00:00.000Z', to: '2025-04-01T00:00:00.000Z' };
export const DIGEST = `sha256:${'ab'.repeat(32)}`;
export const REPORT_TIME = '2025-04-05T12:00:00.000Z';

/** Valid mainland mobile numbers, one per n. */
export const phoneN = (n: number): Identifier => phone(`1380013${String(8000 + n).padStart(4, '0')}`);
export const emailN = (n: number): Identifier => email(`member.${n}@example.com`);

/** Every raw value the seed uses, for the "never in a report" assertions. */
export const RAW_VALUES: string[] = [
  ...[1, 2, 3, 4, 5, 30, 99].map((n) => phoneN(n).value),
  ...Array.from({ length: 12 }, (_, i) => phoneN(10 + i).value),
  emailN(5).value,
  emailN(99).value,
  emailN(98).value,
  phoneN(97).value,
  phoneN(98).value,
  NATIONAL_ID,
  'acct-',
  '+86138001380',
  'user-ref-',
];

export interface Clock {
  set(iso: string): void;
  now: () => Date;
}

export function makeClock(start: string): Clock {
  let current = new Date(start);
  return { set: (iso) => (current = new Date(iso)), now: () => current };
}

export interface Seeded {
  writeKey: string;
  checkKey: string;
  /** Tokens (hex) of every listing made, for the "never in a report" assertions. */
  tokens: string[];
  /** What the monetization checks answered (the policy decides; the counter must agree). */
  monetizationHits: number;
}

async function post(t: TestNode, path: string, key: string, body: unknown): Promise<Response> {
  return t.request('POST', path, { key, body });
}

/** Appends entries of another origin's log with their projection, in one transaction, as sync does. */
export async function appendForeign(db: Kysely<Database>, origin: string, entries: LogEntry[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await new LogWriter(trx).append(
      origin,
      entries.map((e) => ({ seq: e.seq, kind: e.kind, time: e.time, bytes: encodeEntry(e) })),
    );
    const listings = new ListingWriter(trx);
    for (const e of entries) {
      if (e.kind === 'listing') await listings.insertListing(e, null);
      else await listings.applyRetraction(e);
    }
  });
}

export async function seedAuditHistory(t: TestNode, clock: Clock): Promise<Seeded> {
  const writeKey = await t.key('write');
  const checkKey = await t.key('check');
  const tokens: string[] = [];
  const created: Record<string, CreatedListingBody> = {};
  const list = async (name: string, at: string, overrides: Record<string, unknown>) => {
    clock.set(at);
    const res = await post(t, '/v1/listings', writeKey, listingBody({ reference: `user-ref-${name}`, ...overrides }, clock.now()));
    expect(res.status).toBe(201);
    created[name] = await json<CreatedListingBody>(res);
    tokens.push(...created[name].tokens.map((x) => x.token));
  };
  const retract = async (name: string, at: string) => {
    clock.set(at);
    expect((await post(t, `/v1/listings/${created[name]!.id}/retract`, writeKey, { reason: 'appeal_upheld' })).status).toBe(200);
  };

  // Before the window: 2 listings on each of 02-20 and 02-25 (the baseline for 03-10).
  await list('P1', '2025-02-20T10:00:00.000Z', { identifiers: [phoneN(1)] });
  await list('P2', '2025-02-20T11:00:00.000Z', { identifiers: [phoneN(2)] });
  await list('P3', '2025-02-25T10:00:00.000Z', { identifiers: [phoneN(3)] });
  await list('P4', '2025-02-25T11:00:00.000Z', { identifiers: [phoneN(4)] });
  // 03-05: 2 listings, both with evidence; W1 retracted 2 hours later.
  await list('W1', '2025-03-05T10:00:00.000Z', { identifiers: [phoneN(5), emailN(5)], evidenceDigest: DIGEST });
  await list('W2', '2025-03-05T11:00:00.000Z', { identifiers: [nationalId()], evidenceDigest: DIGEST });
  await retract('W1', '2025-03-05T12:00:00.000Z');
  // 03-10: 12 listings (a burst: baseline median(2, 2, 2) = 2, threshold max(10, 5 × 2) = 10).
  // W3 has two phones (phone counts once); W4 shares W2's ID number (alpha with itself: no corroboration).
  for (let i = 0; i < 12; i++) {
    const identifiers = i === 0 ? [phoneN(10), phoneN(30)] : i === 1 ? [phoneN(11), nationalId()] : [phoneN(10 + i)];
    await list(`W${3 + i}`, `2025-03-10T08:${String(i).padStart(2, '0')}:00.000Z`, {
      identifiers,
      category: i < 8 ? 'fraud' : 'rumor',
      ...(i < 4 ? { evidenceDigest: DIGEST } : {}),
    });
  }
  await retract('W3', '2025-03-10T18:00:00.000Z'); // 10 hours
  await retract('W11', '2025-03-12T08:08:00.000Z'); // 48 hours
  await retract('P1', '2025-03-15T00:00:00.000Z'); // a retraction in the window of an older listing

  // beta's log, as sync would store it: B1 shares W1's email and W7's phone (and P1's phone, listed
  // before the window); B2 has W8's phone token but under epoch 2, so it corroborates nothing.
  const tokenOf = (name: string, type: string) => created[name]!.tokens.find((x) => x.type === type)!;
  const base = { v: 1, kind: 'listing', origin: 'beta', severity: 'severe', bannedAt: '2025-03-19T00:00:00.000Z', banUntil: null, expiresAt: '2028-03-19T00:00:00.000Z' } as const;
  const b1: ListingEntry = { ...base, seq: 1, time: '2025-03-20T09:00:00.000Z', category: 'doxxing', tokens: [tokenOf('W7', 'phone'), tokenOf('W1', 'email'), tokenOf('P1', 'phone')] };
  const b2: ListingEntry = { ...base, seq: 2, time: '2025-03-21T09:00:00.000Z', category: 'fraud', tokens: [{ ...tokenOf('W8', 'phone'), epoch: 2 }] };
  await appendForeign(t.node.database.db, 'beta', [b1, b2, { v: 1, kind: 'retraction', origin: 'beta', seq: 3, time: '2025-03-22T00:00:00.000Z', target: 2, reason: 'data_error' }]);

  // Misbehaviour: gamma twice bad_signature and once equivocation in the window; beta after it.
  const record = (origin: string, kind: 'bad_signature' | 'equivocation' | 'bad_entry', detectedAt: string, n: number) =>
    t.node.federation.misbehaviour.record({ kind, origin, peer: 'delta', detectedAt, message: `test ${n}`, evidence: { n } });
  await record('gamma', 'bad_signature', '2025-03-23T00:00:00.000Z', 1);
  await record('gamma', 'bad_signature', '2025-03-24T00:00:00.000Z', 2);
  await record('gamma', 'equivocation', '2025-03-22T00:00:00.000Z', 3);
  await record('beta', 'bad_entry', '2025-04-03T00:00:00.000Z', 4);

  // Checks on 03-25: 4 registration checks through the API (2 listed → deny; one of them tests 2
  // identifiers), 1 in-process (listed → deny), 2 monetization checks, and one invalid request,
  // which is not a check served. A watch enrolment of 2 references with 3 identifiers, one of which
  // matches W2 and W4 (two events at once).
  clock.set('2025-03-25T09:00:00.000Z');
  const check = async (identifiers: Identifier[], purpose = 'registration') => {
    const res = await post(t, '/v1/check', checkKey, { identifiers, purpose });
    expect(res.status).toBe(200);
    return json<CheckBody>(res);
  };
  expect((await check([nationalId()])).decision).toBe('deny');
  expect((await check([phoneN(12)])).decision).toBe('deny');
  expect((await check([phoneN(99)])).decision).toBe('allow');
  expect((await check([emailN(99), phoneN(98)])).decision).toBe('allow');
  const watched = await t.request('PUT', '/v1/watch', {
    key: writeKey,
    body: {
      watch: [
        { reference: 'acct-1', identifiers: [nationalId(), emailN(98)] },
        { reference: 'acct-2', identifiers: [phoneN(97)] },
      ],
    },
  });
  expect(await json(watched)).toEqual({ watched: 2, events: 2 });
  expect((await t.node.checks.check({ identifiers: [phoneN(13)] })).decision).toBe('deny');
  const monetization = [await check([nationalId()], 'monetization'), await check([phoneN(99)], 'monetization')];
  expect((await post(t, '/v1/check', checkKey, { identifiers: [] })).status).toBe(400);
  // After the window: W12 retracted, and one more check.
  await retract('W12', '2025-04-02T00:00:00.000Z');
  clock.set('2025-04-05T09:00:00.000Z');
  await check([phoneN(99)]);
  clock.set(REPORT_TIME);
  return { writeKey, checkKey, tokens, monetizationHits: monetization.filter((m) => m.decision !== 'allow').length };
}

/** The report of WINDOW over the seeded history (monetization hits filled in from what the checks said). */
export function expectedReport(seeded: Seeded): Record<string, unknown> {
  const zeroCategories = {
    rumor: 0,
    impersonation: 0,
    illegal_profit: 0,
    fan_incitement: 0,
    doxxing: 0,
    illegal_fundraising: 0,
    exploiting_vulnerable_groups: 0,
    fraud: 0,
    account_matrix_abuse: 0,
    other_severe: 0,
  };
  const zeroTypes = { phone: 0, email: 0, national_id: 0, device_id: 0, payment_account: 0 };
  const h = seeded.monetizationHits;
  return {
    federation: 'jointban.example',
    node: 'alpha',
    generatedAt: REPORT_TIME,
    from: WINDOW.from,
    to: WINDOW.to,
    members: [
      {
        member: 'alpha',
        listings: 14,
        listingsByCategory: { ...zeroCategories, fraud: 10, rumor: 4 },
        // phone: W1 and W3–W14; email: W1; national_id: W2 and W4.
        listingsByIdentifierType: { ...zeroTypes, phone: 13, email: 1, national_id: 2 },
        retractions: 4,
        retractionRate: 0.2143, // 3 of 14 (W12's retraction comes after the window)
        medianHoursToRetraction: 10, // 2, 10, 48
        corroborated: 2, // W1 and W7, through beta's B1
        withoutEvidenceDigest: 8,
        bursts: [{ day: '2025-03-10', listings: 12, baselinePerDay: 2 }],
        daily: [
          { day: '2025-03-05', listings: 2, retractions: 1 },
          { day: '2025-03-10', listings: 12, retractions: 1 },
          { day: '2025-03-12', listings: 0, retractions: 1 },
          { day: '2025-03-15', listings: 0, retractions: 1 },
        ],
        checks: [
          { purpose: 'registration', served: 5, identifiers: 6, hits: 3, hitRate: 0.6 },
          { purpose: 'monetization', served: 2, identifiers: 2, hits: h, hitRate: h / 2 },
          { purpose: 'watch', served: 1, identifiers: 3, hits: 2, hitRate: null },
        ],
      },
      {
        member: 'beta',
        listings: 2,
        listingsByCategory: { ...zeroCategories, doxxing: 1, fraud: 1 },
        listingsByIdentifierType: { ...zeroTypes, phone: 2, email: 1 },
        retractions: 1,
        retractionRate: 0.5,
        medianHoursToRetraction: 15,
        corroborated: 1,
        withoutEvidenceDigest: 2,
        bursts: [],
        daily: [
          { day: '2025-03-20', listings: 1, retractions: 0 },
          { day: '2025-03-21', listings: 1, retractions: 0 },
          { day: '2025-03-22', listings: 0, retractions: 1 },
        ],
        checks: null,
      },
      {
        member: 'gamma',
        listings: 0,
        listingsByCategory: zeroCategories,
        listingsByIdentifierType: zeroTypes,
        retractions: 0,
        retractionRate: null,
        medianHoursToRetraction: null,
        corroborated: 0,
        withoutEvidenceDigest: 0,
        bursts: [],
        daily: [],
        checks: null,
      },
    ],
    anomalies: [
      { member: 'alpha', kind: 'high_retraction_rate', detail: '3 of 14 listings retracted (threshold 20%)' },
      { member: 'alpha', kind: 'burst', detail: '12 listings on 2025-03-10; baseline 2 per active day' },
      { member: 'alpha', kind: 'missing_evidence', detail: '8 of 14 listings have no evidence digest (threshold 50%)' },
      { member: 'gamma', kind: 'misbehaviour', detail: '2 bad_signature records detected by this node' },
      { member: 'gamma', kind: 'misbehaviour', detail: '1 equivocation record detected by this node' },
    ],
  };
}
