/**
 * ListingService.createMany against a real node: a batch is one transaction with consecutive seqs
 * and one append notification, every listing in it is checkable over HTTP, and a batch with one bad
 * item writes nothing and names the item.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createHmacTokenDeriver } from '../../src/identifiers/tokens.js';
import { Tokenizer } from '../../src/service/tokenizer.js';
import { ListingService, type CreateListingInput } from '../../src/service/listings.js';
import { LogReader } from '../../src/store/log-repository.js';
import { BAD_NATIONAL_ID, json, type CheckBody } from '../helpers/fixtures.js';
import { rowCounts as countRows } from '../helpers/db-query.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';
import { identifiersOf, listingInput, person } from '../bench/synthetic.js';

let t: TestNode;
let checker: string;

beforeEach(async () => {
  t = await createTestNode();
  checker = await t.key('check');
});
afterEach(() => t.stop());

const inputs = (from: number, count: number): CreateListingInput[] => Array.from({ length: count }, (_, i) => listingInput(from + i, new Date()));

const rowCounts = () => countRows(t.node.database);

/**
 * A second service over the node's database whose append notifications the test records; `epochs`
 * adds secrets beside the node's own (an epoch overlap).
 */
function observedService(extraEpochs: readonly number[] = []): { service: ListingService; appends: [string, number][] } {
  const { config } = t.node;
  const epochs = [...config.epochs, ...extraEpochs.map((epoch) => ({ epoch, secret: new Uint8Array(32).fill(epoch) }))];
  const appends: [string, number][] = [];
  const service = new ListingService({
    db: t.node.database.db,
    member: config.member,
    categories: config.categories,
    policy: config.policy,
    permanentRetentionDays: config.listings.permanentRetentionDays,
    tokenizer: new Tokenizer(createHmacTokenDeriver(epochs), config.defaultRegion),
    now: () => new Date(),
    onAppend: (origin, size) => appends.push([origin, size]),
  });
  return { service, appends };
}

async function check(identifiers: unknown): Promise<CheckBody> {
  const res = await t.request('POST', '/v1/check', { key: checker, body: { identifiers } });
  expect(res.status).toBe(200);
  return json<CheckBody>(res);
}

describe('createMany: a batch', () => {
  it('gets consecutive seqs 1..50 in one append, with every Merkle node written', async () => {
    const { service, appends } = observedService();
    const created = await service.createMany(inputs(0, 50));
    expect(created.map((c) => c.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(created.map((c) => c.id)).toEqual(Array.from({ length: 50 }, (_, i) => `alpha:${i + 1}`));
    for (const c of created) expect(c.tokens.map((tok) => tok.type)).toEqual(['phone', 'national_id', 'email']);
    expect(await rowCounts()).toEqual({ log: 50, listings: 50, tokens: 150 });
    expect(appends).toEqual([['alpha', 50]]);
    // Throws if a tree node the batch completed is missing.
    await expect(new LogReader(t.node.database.db).compactRange('alpha', 50)).resolves.toBeDefined();
  });

  it('makes every listing checkable, each under its own id', async () => {
    await t.node.listings.createMany(inputs(0, 50));
    for (let k = 0; k < 50; k++) {
      const body = await check([{ type: 'national_id', value: person(k).nationalId }]);
      expect(body.decision).toBe('deny');
      expect(body.matches.map((m) => m['listingId'])).toEqual([`alpha:${k + 1}`]);
    }
    // All three identifiers of one person, the phone spelled differently: one listing, three matches.
    const body = await check(identifiersOf(person(7), 2));
    expect(body.decision).toBe('deny');
    expect(new Set(body.matches.map((m) => m['listingId']))).toEqual(new Set(['alpha:8']));
    expect(body.matches).toHaveLength(3);
    expect((await check(identifiersOf(person(50)))).decision).toBe('allow');
  });

  it('continues the log after single listings, and single listings continue after it', async () => {
    const first = await t.node.listings.create(listingInput(100, new Date()));
    const batch = await t.node.listings.createMany(inputs(0, 3));
    const last = await t.node.listings.create(listingInput(101, new Date()));
    expect([first.seq, ...batch.map((c) => c.seq), last.seq]).toEqual([1, 2, 3, 4, 5]);
  });

  it('of nothing writes nothing and notifies nobody', async () => {
    const { service, appends } = observedService();
    expect(await service.createMany([])).toEqual([]);
    expect(await rowCounts()).toEqual({ log: 0, listings: 0, tokens: 0 });
    expect(appends).toEqual([]);
  });
});

describe('createMany: one bad item rejects the whole batch', () => {
  it('an invalid identifier names the item, the identifier and its type, never its value', async () => {
    await t.node.listings.createMany(inputs(0, 2));
    const before = await rowCounts();
    const { service, appends } = observedService();
    const batch = inputs(10, 6);
    batch[3] = {
      ...batch[3]!,
      identifiers: [
        { type: 'phone', value: person(13).phone },
        { type: 'national_id', value: BAD_NATIONAL_ID },
      ],
    };
    const error = await service.createMany(batch).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'invalid_identifier', message: expect.stringMatching(/^listings\[3\]\.identifiers\[1\] \(national_id\): /) });
    expect((error as AppError).message).not.toContain(BAD_NATIONAL_ID);
    expect(await rowCounts()).toEqual(before);
    expect(appends).toEqual([]);
    // None of the good items was written, and no seq was consumed.
    expect((await check([{ type: 'national_id', value: person(10).nationalId }])).decision).toBe('allow');
    expect((await t.node.listings.createMany(inputs(10, 1)))[0]!.seq).toBe(3);
  });

  it('any other invalid field names the item too', async () => {
    const batch = inputs(0, 3);
    batch[1] = { ...batch[1]!, category: 'jaywalking' };
    await expect(t.node.listings.createMany(batch)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/^listings\[1\]\.category: /) });
    expect(await rowCounts()).toEqual({ log: 0, listings: 0, tokens: 0 });
  });

  it('a single create keeps its message without the item prefix', async () => {
    const input = { ...listingInput(0, new Date()), identifiers: [{ type: 'national_id' as const, value: BAD_NATIONAL_ID }] };
    await expect(t.node.listings.create(input)).rejects.toMatchObject({ code: 'invalid_identifier', message: expect.stringMatching(/^identifiers\[0\] \(national_id\): /) });
  });
});

describe('a listing during an epoch overlap', () => {
  it('carries every identifier under every epoch held, so a node holding either epoch matches it', async () => {
    const { service } = observedService([2]);
    const [created] = await service.createMany(inputs(0, 1));
    expect(created!.tokens.map((tok) => [tok.type, tok.epoch])).toEqual([
      ['phone', 1],
      ['phone', 2],
      ['national_id', 1],
      ['national_id', 2],
      ['email', 1],
      ['email', 2],
    ]);
    // The node itself holds epoch 1 only: it matches through the epoch-1 tokens.
    expect((await check([{ type: 'national_id', value: person(0).nationalId }])).decision).toBe('deny');
  });

  it("refuses, naming the limit, a listing whose identifiers under every epoch exceed an entry's 32 tokens", async () => {
    const { service, appends } = observedService([2, 3]);
    const input = { ...listingInput(0, new Date()), identifiers: Array.from({ length: 11 }, (_, i) => ({ type: 'email' as const, value: `user${i}@example.org` })) };
    await expect(service.create(input)).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/^identifiers: 33 tokens .*at most 10 identifiers while this node holds 3 epochs$/),
    });
    expect(await rowCounts()).toEqual({ log: 0, listings: 0, tokens: 0 });
    expect(appends).toEqual([]);
    await expect(service.create({ ...input, identifiers: input.identifiers.slice(0, 10) })).resolves.toMatchObject({ seq: 1 });
  });
});
