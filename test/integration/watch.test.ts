/**
 * The watchlist and its events on a real node (real SQLite, real HTTP): validation that writes
 * nothing, token-only storage that a re-PUT replaces, idempotent DELETE, match events for the
 * node's own listings and for accounts already banned when first watched, lift events on
 * retraction, the cursor-paginated feed, and the routes in the OpenAPI document.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WatchReader } from '../../src/store/watch-repository.js';
import type { EventView } from '../../src/service/watch.js';
import { deviceId, email, json, listingBody, nationalId, paymentAccount, phone, type CreatedListingBody, type ErrorBody } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode;
afterEach(() => t.stop());

interface EventPage {
  events: EventView[];
  next: string;
}

async function setup(): Promise<{ write: string; reader: WatchReader }> {
  t = await createTestNode();
  return { write: await t.key('write'), reader: new WatchReader(t.node.database.db) };
}

const put = (key: string, watch: unknown) => t.request('PUT', '/v1/watch', { key, body: { watch } });
const events = async (key: string, query = ''): Promise<EventPage> => {
  const res = await t.request('GET', `/v1/events${query}`, { key });
  expect(res.status).toBe(200);
  return json<EventPage>(res);
};

describe('PUT /v1/watch rejects bad input and writes nothing', () => {
  it('names the offending item, and stores nothing of the batch', async () => {
    const { write, reader } = await setup();
    const cases: [unknown, RegExp][] = [
      [
        [
          { reference: 'a', identifiers: [phone()] },
          { reference: 'b', identifiers: [{ type: 'phone', value: '+86 10 6552 9988' }] },
        ],
        /^watch\[1\]\.identifiers\[0\] \(phone\): /,
      ],
      [
        [
          { reference: 'a', identifiers: [phone()] },
          { reference: 'a', identifiers: [email()] },
        ],
        /^watch\[1\]\.reference: same as watch\[0\]/,
      ],
      [[{ reference: 'a', identifiers: [] }], /^watch\[0\]\.identifiers: /],
      [[{ reference: '', identifiers: [phone()] }], /^watch\[0\]\.reference: /],
      [[{ reference: 'a', identifiers: [phone()], extra: 1 }], /^watch\[0\]: /],
      [[], /^watch: /],
      [Array.from({ length: 1001 }, (_, i) => ({ reference: `r${i}`, identifiers: [phone()] })), /^watch: /],
    ];
    for (const [watch, message] of cases) {
      const res = await put(write, watch);
      expect(res.status, JSON.stringify(watch).slice(0, 80)).toBe(400);
      const body = await json<ErrorBody>(res);
      expect(body.error.code).toMatch(/^invalid_/);
      expect(body.error.message).toMatch(message);
    }
    expect(await reader.watchedCount()).toBe(0);
    expect(await reader.tokensOf('a')).toEqual([]);
  });

  it('needs a write key and a JSON body', async () => {
    const { write } = await setup();
    const checkKey = await t.key('check');
    expect((await t.request('PUT', '/v1/watch', { body: { watch: [] } })).status).toBe(401);
    expect((await put(checkKey, [{ reference: 'a', identifiers: [phone()] }])).status).toBe(403);
    const res = await t.request('PUT', '/v1/watch', { key: write, body: 'watch=1', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(415);
    expect((await t.request('GET', '/v1/events', { key: checkKey })).status).toBe(403);
  });
});

describe('watched accounts are stored as tokens', () => {
  it('keeps one token per identifier and epoch, replaces them on a re-PUT, and forgets them on DELETE', async () => {
    const { write, reader } = await setup();
    const res = await put(write, [
      { reference: 'user-1', identifiers: [phone(), email()] },
      { reference: 'user/2', identifiers: [nationalId()] },
    ]);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ watched: 2, events: 0 });
    expect(await reader.watchedCount()).toBe(2);
    const first = await reader.tokensOf('user-1');
    expect(first.map((x) => x.type).sort()).toEqual(['email', 'phone']);
    expect(first.every((x) => x.epoch === 1 && x.token.length === 16)).toBe(true);

    expect((await put(write, [{ reference: 'user-1', identifiers: [nationalId()] }])).status).toBe(200);
    expect((await reader.tokensOf('user-1')).map((x) => x.type)).toEqual(['national_id']);
    expect(await reader.watchedCount()).toBe(2);

    expect((await t.request('DELETE', `/v1/watch/${encodeURIComponent('user/2')}`, { key: write })).status).toBe(204);
    expect(await reader.tokensOf('user/2')).toEqual([]);
    expect(await reader.isWatched('user/2')).toBe(false);
    // Idempotent: a retried DELETE gets the same answer.
    expect((await t.request('DELETE', '/v1/watch/user%2F2', { key: write })).status).toBe(204);
    expect(await reader.watchedCount()).toBe(1);
  });

  it('documents the routes in the OpenAPI document', async () => {
    await setup();
    const doc = (await (await t.request('GET', '/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/watch'] ?? {})).toEqual(['put']);
    expect(Object.keys(doc.paths['/v1/watch/{reference}'] ?? {})).toEqual(['delete']);
    expect(Object.keys(doc.paths['/v1/events'] ?? {})).toEqual(['get']);
    expect(Object.keys(doc.paths['/v1/events/dead-letters/redrive'] ?? {})).toEqual(['post']);
  });
});

describe('events about watched accounts', () => {
  it('records a match for a new own listing, at once for an account already banned, and a lift on retraction', async () => {
    const { write } = await setup();
    expect((await put(write, [{ reference: 'acct-7', identifiers: [phone()] }])).status).toBe(200);
    expect((await events(write)).events).toEqual([]);

    // The node's own listing of the same person under another account.
    const listed = await json<CreatedListingBody>(await t.request('POST', '/v1/listings', { key: write, body: listingBody({ reference: 'other-acct' }) }));
    const [match] = (await events(write)).events;
    expect(match).toMatchObject({ id: '1', kind: 'match', reference: 'acct-7', listingId: listed.id, origin: 'alpha', category: 'fraud', identifierTypes: ['phone'] });
    expect(match!.registration.decision).toBe('deny');
    expect(match!.registration.penalties).toEqual([{ action: 'deny_registration', until: null, rule: 'registration.strong_identifier' }]);
    expect(match!.monetization).toMatchObject({ decision: 'deny', penalties: [{ action: 'suspend_monetization', until: null }] });
    expect(match!.matches.map((m) => m.listingId)).toEqual([listed.id]);

    // Watching an account that is already banned: its match is recorded at once; a re-PUT does not repeat it.
    const second = await json<{ events: number }>(await put(write, [{ reference: 'acct-8', identifiers: [email(), phone()] }]));
    expect(second.events).toBe(1);
    expect((await json<{ events: number }>(await put(write, [{ reference: 'acct-8', identifiers: [phone()] }]))).events).toBe(0);

    expect((await t.request('POST', `/v1/listings/${listed.id}/retract`, { key: write, body: { reason: 'appeal_upheld' } })).status).toBe(200);
    const all = (await events(write)).events;
    expect(all.map((e) => [e.id, e.kind, e.reference])).toEqual([
      ['1', 'match', 'acct-7'],
      ['2', 'match', 'acct-8'],
      ['3', 'lift', 'acct-7'],
      ['4', 'lift', 'acct-8'],
    ]);
    const lift = all[2]!;
    expect(lift.registration).toEqual({ decision: 'allow', penalties: [], rules: [] });
    expect(lift.monetization.decision).toBe('allow');
    expect(lift.matches).toEqual([]);

    // A listing that matches no watched token records nothing.
    await t.request('POST', '/v1/listings', { key: write, body: listingBody({ identifiers: [nationalId()] }) });
    expect((await events(write)).events).toHaveLength(4);

    // This node's listing of the very account it watches records nothing (the platform banned it)…
    expect((await put(write, [{ reference: 'self-acct', identifiers: [deviceId()] }])).status).toBe(200);
    expect((await t.request('POST', '/v1/listings', { key: write, body: listingBody({ identifiers: [deviceId()], reference: 'self-acct' }) })).status).toBe(201);
    expect((await events(write)).events).toHaveLength(4);
    // …nor does watching an account this node has already listed under the same reference; another account of the person does.
    expect((await t.request('POST', '/v1/listings', { key: write, body: listingBody({ identifiers: [paymentAccount()], reference: 'banned-acct' }) })).status).toBe(201);
    expect((await json<{ events: number }>(await put(write, [{ reference: 'banned-acct', identifiers: [paymentAccount()] }]))).events).toBe(0);
    expect((await json<{ events: number }>(await put(write, [{ reference: 'second-acct', identifiers: [paymentAccount()] }]))).events).toBe(1);
  });

  it('pages by cursor, oldest first, and rejects a bad cursor or limit', async () => {
    const { write } = await setup();
    const watch = Array.from({ length: 5 }, (_, i) => ({ reference: `acct-${i}`, identifiers: [phone()] }));
    expect((await put(write, watch)).status).toBe(200);
    await t.request('POST', '/v1/listings', { key: write, body: listingBody() });
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const got = await events(write, `?limit=2${cursor ? `&after=${cursor}` : ''}`);
      if (got.events.length === 0) {
        expect(got.next).toBe(cursor);
        break;
      }
      expect(got.events.length).toBeLessThanOrEqual(2);
      seen.push(...got.events.map((e) => e.reference));
      cursor = got.next;
    }
    expect(seen).toEqual(['acct-0', 'acct-1', 'acct-2', 'acct-3', 'acct-4']);
    expect((await events(write, '?after=3')).events.map((e) => e.id)).toEqual(['4', '5']);
    for (const query of ['?after=abc', '?after=-1', '?after=1.5', '?limit=0', '?limit=1001', '?limit=x']) {
      const res = await t.request('GET', `/v1/events${query}`, { key: write });
      expect(res.status, query).toBe(400);
      expect((await json<ErrorBody>(res)).error.code).toBe('invalid_input');
    }
  });
});

describe('a listing that matches many watched accounts', () => {
  it('records one event per account, all in the listing’s transaction', async () => {
    const { write } = await setup();
    const watch = Array.from({ length: 250 }, (_, i) => ({ reference: `shared-${String(i).padStart(3, '0')}`, identifiers: [phone(), email()] }));
    expect((await put(write, watch)).status).toBe(200);
    const listed = await json<CreatedListingBody>(await t.request('POST', '/v1/listings', { key: write, body: listingBody({ identifiers: [phone(), email()] }) }));
    const got = await events(write, '?limit=1000');
    expect(got.events).toHaveLength(250);
    expect(new Set(got.events.map((e) => e.reference)).size).toBe(250);
    expect(got.events.every((e) => e.listingId === listed.id && e.identifierTypes.join() === 'email,phone' && e.registration.decision === 'deny')).toBe(true);
    expect(got.next).toBe('250');
  });
});

describe('retention', () => {
  it('prunes events older than events.retentionDays, and keeps the cursor moving forward', async () => {
    let offset = 0;
    t = await createTestNode({ now: () => new Date(Date.now() + offset), extra: { events: { retentionDays: 30 } } });
    const write = await t.key('write');
    expect((await put(write, [{ reference: 'acct-1', identifiers: [phone()] }])).status).toBe(200);
    await t.request('POST', '/v1/listings', { key: write, body: listingBody() });
    expect((await events(write)).events).toHaveLength(1);
    offset = 29 * 86_400_000;
    expect(await t.node.events.prune()).toBe(0);
    offset = 31 * 86_400_000;
    expect(await t.node.events.prune()).toBe(1);
    expect(await events(write)).toEqual({ events: [], next: '0' });
    // A new event after the prune gets a new id, never a reused one.
    expect((await put(write, [{ reference: 'acct-2', identifiers: [phone()] }])).status).toBe(200);
    expect((await events(write, '?after=1')).events.map((e) => [e.id, e.reference])).toEqual([['2', 'acct-2']]);
  });
});
