/**
 * The audit report over real HTTP on a real node with a controllable clock: exact statistics for
 * a known history (test/helpers/audit-data.ts), the CSV export, check counters flushed to the
 * database, the auditor scope, bad input, and no identifier, token or reference in any output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { openDatabase } from '../../src/store/database.js';
import { expectedReport, makeClock, RAW_VALUES, seedAuditHistory, WINDOW, type Seeded } from '../helpers/audit-data.js';
import { json, listingBody, phone, type ErrorBody } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

const clock = makeClock('2025-02-01T00:00:00.000Z');
let t: TestNode;
let seeded: Seeded;
let auditor: string;

beforeAll(async () => {
  t = await createTestNode({ now: clock.now });
  seeded = await seedAuditHistory(t, clock);
  auditor = await t.key('auditor');
});
afterAll(() => t.stop());

const reportPath = (query: string) => `/v1/audit/report?${query}`;
const windowQuery = `from=${WINDOW.from}&to=${WINDOW.to}`;

function expectNoIdentifiers(text: string): void {
  for (const raw of RAW_VALUES) expect(text).not.toContain(raw);
  for (const token of seeded.tokens) expect(text).not.toContain(token);
}

describe('GET /v1/audit/report (JSON)', () => {
  it('gives the exact statistics of the window for every member, and the anomalies', async () => {
    const res = await t.request('GET', reportPath(windowQuery), { key: auditor });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual(expectedReport(seeded));
  });

  it('accepts plain dates and offsets, and an admin key', async () => {
    const res = await t.request('GET', reportPath('from=2025-03-01T08:00:00%2B08:00&to=2025-04-01'), { key: t.adminKey });
    expect(res.status).toBe(200);
    const body = await json<{ from: string; to: string; members: { listings: number }[] }>(res);
    expect(body.from).toBe(WINDOW.from);
    expect(body.to).toBe(WINDOW.to);
    expect(body.members[0]!.listings).toBe(14);
  });

  it('narrows to the window: a window of 03-10 alone holds the burst day only', async () => {
    const res = await t.request('GET', reportPath('from=2025-03-10&to=2025-03-11'), { key: auditor });
    const body = await json<{ members: { member: string; listings: number; retractions: number; bursts: unknown[]; checks: unknown }[] }>(res);
    const alpha = body.members.find((m) => m.member === 'alpha')!;
    expect(alpha).toMatchObject({ listings: 12, retractions: 1, bursts: [{ day: '2025-03-10', listings: 12, baselinePerDay: 2 }] });
    expect(alpha.checks).toEqual([
      { purpose: 'registration', served: 0, identifiers: 0, hits: 0, hitRate: null },
      { purpose: 'monetization', served: 0, identifiers: 0, hits: 0, hitRate: null },
      { purpose: 'watch', served: 0, identifiers: 0, hits: 0, hitRate: null },
    ]);
    expect(body.members.map((m) => m.member)).toEqual(['alpha']);
  });

  it('holds no raw identifier, normalised value, token or reference', async () => {
    expectNoIdentifiers(await (await t.request('GET', reportPath(windowQuery), { key: auditor })).text());
  });
});

/** Splits RFC 4180 text into rows of fields (enough for what the report writes). */
function parseCsv(text: string): string[][] {
  expect(text.endsWith('\r\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\r\n')
    .map((line) => line.split(','));
}

describe('GET /v1/audit/report?format=csv', () => {
  it('is an RFC 4180 attachment with one row per member', async () => {
    const res = await t.request('GET', reportPath(`${windowQuery}&format=csv`), { key: auditor });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="jointban-audit-alpha-2025-03-01-2025-04-01.csv"');
    const text = await res.text();
    expectNoIdentifiers(text);
    const [header, ...rows] = parseCsv(text);
    expect(rows.map((r) => r[header!.indexOf('member')])).toEqual(['alpha', 'beta', 'gamma']);
    const alpha = Object.fromEntries(header!.map((h, i) => [h, rows[0]![i]]));
    expect(alpha).toMatchObject({
      federation: 'jointban.example',
      node: 'alpha',
      from: WINDOW.from,
      to: WINDOW.to,
      generated_at: '2025-04-05T12:00:00.000Z',
      listings: '14',
      retractions: '4',
      retraction_rate: '0.2143',
      median_hours_to_retraction: '10',
      corroborated: '2',
      without_evidence_digest: '8',
      bursts: '1',
      burst_days: '2025-03-10',
      anomalies: 'high_retraction_rate burst missing_evidence',
      'listings_by_category.fraud': '10',
      'listings_by_category.rumor': '4',
      'listings_by_category.doxxing': '0',
      'listings_by_identifier_type.phone': '13',
      'listings_by_identifier_type.national_id': '2',
      'checks.registration.served': '5',
      'checks.registration.identifiers': '6',
      'checks.registration.hits': '3',
      'checks.registration.hit_rate': '0.6',
      'checks.monetization.served': '2',
      'checks.watch.served': '1',
      'checks.watch.identifiers': '3',
      'checks.watch.hits': '2',
    });
    const gamma = Object.fromEntries(header!.map((h, i) => [h, rows[2]![i]]));
    expect(gamma).toMatchObject({ listings: '0', retraction_rate: '', anomalies: 'misbehaviour', 'checks.registration.served': '' });
  });
});

describe('check counters', () => {
  it('are in the database per day, purpose and API key after a flush', async () => {
    await t.node.checkCounter.flush();
    const rows = await t.node.database.db.selectFrom('check_counts').selectAll().orderBy('day').orderBy('purpose').orderBy('key_id').execute();
    const keyId = seeded.checkKey.slice(3, 15);
    const writeKeyId = seeded.writeKey.slice(3, 15);
    expect(rows.map((r) => ({ ...r, served: Number(r.served), identifiers: Number(r.identifiers), hits: Number(r.hits) }))).toEqual([
      { day: '2025-03-25', purpose: 'monetization', key_id: keyId, served: 2, identifiers: 2, hits: seeded.monetizationHits },
      { day: '2025-03-25', purpose: 'registration', key_id: '', served: 1, identifiers: 1, hits: 1 },
      { day: '2025-03-25', purpose: 'registration', key_id: keyId, served: 4, identifiers: 5, hits: 2 },
      { day: '2025-03-25', purpose: 'watch', key_id: writeKeyId, served: 1, identifiers: 3, hits: 2 },
      { day: '2025-04-05', purpose: 'registration', key_id: keyId, served: 1, identifiers: 1, hits: 0 },
    ]);
  });

  it('add up over flushes and are written when the node stops', async () => {
    const own = await createTestNode({ now: () => new Date('2025-05-01T10:00:00.000Z'), listen: false });
    try {
      await own.node.checks.check({ identifiers: [phone()] });
      await own.node.checkCounter.flush();
      await own.node.checks.check({ identifiers: [phone()] });
      await own.node.checks.check({ identifiers: [phone()], purpose: 'monetization' });
      await own.close();
      const handle = await openDatabase(loadConfig(own.dataDir, {}).database);
      try {
        const rows = await handle.db.selectFrom('check_counts').select(['purpose', 'served', 'hits']).orderBy('purpose').execute();
        expect(rows.map((r) => [r.purpose, Number(r.served), Number(r.hits)])).toEqual([
          ['monetization', 1, 0],
          ['registration', 2, 0],
        ]);
      } finally {
        await handle.close();
      }
    } finally {
      await own.stop();
    }
  });
});

describe('scopes', () => {
  it('an auditor key reads the report and nothing else', async () => {
    expect((await t.request('GET', reportPath(windowQuery), { key: auditor })).status).toBe(200);
    const calls: [string, string, unknown][] = [
      ['POST', '/v1/check', { identifiers: [phone()] }],
      ['POST', '/v1/listings', listingBody({}, clock.now())],
      ['GET', '/v1/listings/alpha:1', undefined],
      ['POST', '/v1/listings/alpha:1/retract', { reason: 'other' }],
      ['GET', '/v1/federation/status', undefined],
    ];
    for (const [method, path, body] of calls) {
      const res = await t.request(method, path, { key: auditor, ...(body !== undefined ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect((await json<ErrorBody>(res)).error.code).toBe('forbidden');
    }
  });

  it.each(['check', 'write'] as const)('a %s key may not read the report', async (scope) => {
    const res = await t.request('GET', reportPath(windowQuery), { key: await t.key(scope) });
    expect(res.status).toBe(403);
    expect((await json<ErrorBody>(res)).error).toEqual({ code: 'forbidden', message: `this API key has scope "${scope}"; this call needs "auditor"` });
  });

  it('no key → 401', async () => {
    expect((await t.request('GET', reportPath(windowQuery))).status).toBe(401);
  });
});

describe('bad input → 400 JSON', () => {
  it.each([
    ['no window', '', /^from: required/],
    ['no to', 'from=2025-03-01', /^to: required/],
    ['a bad date', 'from=2025-02-30&to=2025-04-01', /^from: not a real date/],
    ['an unzoned date-time', 'from=2025-03-01T00:00:00&to=2025-04-01', /^from: must be an ISO-8601/],
    ['to before from', 'from=2025-04-01&to=2025-03-01', /^to: must be after from/],
    ['to equal to from', 'from=2025-04-01&to=2025-04-01', /^to: must be after from/],
    ['a window over 366 days', 'from=2024-01-01&to=2025-01-03', /longer than 366 days/],
    ['an unknown format', `${windowQuery}&format=xml`, /^format: /],
  ])('%s', async (_name, query, message) => {
    const res = await t.request('GET', reportPath(query), { key: auditor });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await json<ErrorBody>(res);
    expect(body.error.code).toBe('invalid_input');
    expect(body.error.message).toMatch(message);
  });
});

describe('GET /openapi.json', () => {
  it('describes the report route', async () => {
    const doc = await json<{ paths: Record<string, { get?: { parameters?: { name: string }[] } }> }>(await t.request('GET', '/openapi.json'));
    expect(doc.paths['/v1/audit/report']?.get?.parameters?.map((p) => p.name)).toEqual(['from', 'to', 'format']);
  });
});
