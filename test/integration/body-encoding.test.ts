/**
 * Bodies that are not UTF-8 are refused, not repaired. Decoded leniently, every invalid sequence
 * became U+FFFD, so two different byte strings read as one string and two different identifiers
 * shared a token. Every platform route that reads a JSON body answers 400 `invalid_encoding` and
 * writes nothing; valid UTF-8 (a BOM, non-ASCII text) still passes; the dashboard's forms refuse
 * bytes and percent-escapes that are not UTF-8.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfToken } from '../helpers/dashboard-client.js';
import { json, listingBody, phone, type CreatedListingBody, type ErrorBody } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode;
let writeKey: string;
let listingId: string;

beforeAll(async () => {
  t = await createTestNode();
  writeKey = await t.key('write');
  listingId = (await json<CreatedListingBody>(await t.request('POST', '/v1/listings', { key: writeKey, body: listingBody() }))).id;
});
afterAll(() => t.stop());

/** A JSON text with `bad` bytes spliced into the value of an email identifier. */
function withBytes(template: string, bad: number[]): Uint8Array {
  const [before, after] = template.split('@@');
  const enc = new TextEncoder();
  return new Uint8Array([...enc.encode(before), ...bad, ...enc.encode(after)]);
}

const send = (method: string, path: string, body: Uint8Array, key = writeKey) =>
  fetch(`${t.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });

async function rowCounts(): Promise<Record<string, number>> {
  const { rows } = await sql<Record<string, number>>`select
    (select count(*) from listings) as listings,
    (select count(*) from log_entries) as entries,
    (select count(*) from watch_references) as refs,
    (select count(*) from watch_tokens) as tokens,
    (select count(*) from watch_events) as events`.execute(t.node.database.db);
  return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]));
}

async function checksCounted(): Promise<number> {
  await t.node.checkCounter.flush();
  const row = await t.node.database.db
    .selectFrom('check_counts')
    .select((eb) => eb.fn.sum<number>('served').as('n'))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

const email = '{"type":"email","value":"a@@b@example.com"}';
const ROUTES: [string, string, string][] = [
  ['POST', '/v1/listings', `{"identifiers":[${email}],"category":"fraud","severity":"severe","banUntil":null}`],
  ['POST', '/v1/check', `{"identifiers":[${email}]}`],
  ['PUT', '/v1/watch', `{"watch":[{"reference":"acct-1","identifiers":[${email}]}]}`],
  ['POST', '/v1/listings/{id}/retract', '{"reason":"appeal_upheld@@"}'],
];

const INVALID: [string, number[]][] = [
  ['a lone continuation byte', [0x80]],
  ['0xFF', [0xff]],
  ['an overlong "/"', [0xc0, 0xaf]],
  ['a UTF-16 surrogate', [0xed, 0xa0, 0x80]],
  ['a truncated sequence', [0xe6, 0x88]],
];

describe('JSON bodies that are not UTF-8', () => {
  for (const [method, path, template] of ROUTES) {
    it.each(INVALID)(`${method} ${path}: %s → 400 invalid_encoding, nothing written or counted`, async (_name, bad) => {
      const before = await rowCounts();
      const checks = await checksCounted();
      const res = await send(method, path.replace('{id}', encodeURIComponent(listingId)), withBytes(template, bad));
      expect(res.status).toBe(400);
      const body = await json<ErrorBody>(res);
      expect(body.error).toEqual({ code: 'invalid_encoding', message: 'the body is not valid UTF-8' });
      expect(await rowCounts()).toEqual(before);
      expect(await checksCounted()).toBe(checks);
    });
  }

  it('two bodies that differ only in their invalid bytes no longer both pass as one identifier', async () => {
    const check = await t.key('check');
    for (const bad of [[0xff], [0xfe]]) expect((await send('POST', '/v1/check', withBytes(ROUTES[1]![2], bad), check)).status).toBe(400);
  });

  it('still accepts valid UTF-8: a leading BOM, and non-ASCII text', async () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify({ identifiers: [phone()] }))]);
    expect((await send('POST', '/v1/check', bom)).status).toBe(200);
    const res = await send('PUT', '/v1/watch', new TextEncoder().encode(JSON.stringify({ watch: [{ reference: '账户-1', identifiers: [{ type: 'email', value: '用户@例子.中国' }] }] })));
    expect(await json(res)).toEqual({ watched: 1, events: 0 });
  });
});

describe('dashboard forms that are not UTF-8', () => {
  const post = (body: Uint8Array | string, cookie: string) =>
    t.node.app.request('http://127.0.0.1/dashboard/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://127.0.0.1', 'sec-fetch-site': 'same-origin', cookie },
      body,
    });

  async function loginForm(): Promise<{ token: string; cookie: string }> {
    const page = await t.node.app.request('http://127.0.0.1/dashboard/login');
    const cookie = page.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .join('; ');
    return { token: csrfToken(await page.text()), cookie };
  }

  it('refuses a percent-escape that is not UTF-8 with a 400 page', async () => {
    const { token, cookie } = await loginForm();
    const res = await post(`_csrf=${token}&key=jb_%FF`, cookie);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('the form is not valid UTF-8');
  });

  it('refuses raw bytes that are not UTF-8 with a 400 page', async () => {
    const { token, cookie } = await loginForm();
    const res = await post(new Uint8Array([...new TextEncoder().encode(`_csrf=${token}&key=jb_`), 0xff]), cookie);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('the body is not valid UTF-8');
  });

  it('still signs in with a valid form', async () => {
    const { token, cookie } = await loginForm();
    const res = await post(`_csrf=${token}&key=${encodeURIComponent(t.adminKey)}`, cookie);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard');
  });
});
