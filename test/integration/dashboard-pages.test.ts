/**
 * The dashboard's pages against a real node: each page with data and with its empty state, the
 * listing lookup with its receipt, and the rules every page keeps: a strict CSP whose nonce is the
 * stylesheet's, no script, no URL that leaves the node, and no API key, account reference, raw
 * identifier or token on any page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64 } from '../../src/crypto/encoding.js';
import { verifyReceipt } from '../../src/log/receipt.js';
import { DashboardClient, isLocalUrl, urlsIn } from '../helpers/dashboard-client.js';
import { waitFor } from '../helpers/federation.js';
import { EMAIL, listingBody, NATIONAL_ID, NORMALISED, PHONE, email, nationalId, phone } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

const REFERENCE = 'user-8841';

/** Fetches a page, checks the rules every page keeps, and returns its HTML. */
async function page(client: DashboardClient, path: string, status = 200): Promise<string> {
  const res = await client.get(path);
  expect(res.status, path).toBe(status);
  const html = await res.text();
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp, path).toContain("default-src 'none'");
  expect(csp, path).toContain("frame-ancestors 'none'");
  expect(csp, path).toContain("form-action 'self'");
  expect(csp, path).toContain("img-src 'self' data:");
  const nonce = /style-src 'nonce-([^']+)'/.exec(csp)?.[1];
  expect(nonce, path).toBeTruthy();
  expect(html, path).toContain(`<style nonce="${nonce}">`);
  expect(csp, path).not.toContain('script-src');
  expect(html.toLowerCase(), path).not.toContain('<script');
  expect(res.headers.get('cache-control'), path).toBe('no-store');
  expect(html.startsWith('<!doctype html>'), path).toBe(true);
  const external = urlsIn(html).filter((u) => !isLocalUrl(u));
  expect(external, path).toEqual([]);
  return html;
}

describe('with data', () => {
  let t: TestNode;
  let client: DashboardClient;
  const secrets: string[] = [];
  let ids: string[] = [];

  beforeAll(async () => {
    t = await createTestNode({ extra: { checkpoints: { intervalMs: 50 } } });
    const write = await t.key('write');
    secrets.push(t.adminKey, write);
    const bodies = [
      listingBody({ identifiers: [phone()], category: 'fraud', reference: REFERENCE }),
      listingBody({ identifiers: [email()], category: 'doxxing', reference: REFERENCE }),
      listingBody({ identifiers: [nationalId(), phone('13900139000')], category: 'fraud', evidenceDigest: `sha256:${'ab'.repeat(32)}` }),
    ];
    for (const body of bodies) {
      const res = await t.request('POST', '/v1/listings', { key: write, body });
      expect(res.status).toBe(201);
      const created = (await res.json()) as { id: string; tokens: { token: string }[] };
      ids.push(created.id);
      secrets.push(...created.tokens.map((x) => x.token));
    }
    const retract = await t.request('POST', `/v1/listings/${ids[1]}/retract`, { key: write, body: { reason: 'appeal_upheld' } });
    expect(retract.status).toBe(200);
    await waitFor(async () => (await t.node.federation.status()).origins.find((o) => o.origin === 'alpha')?.checkpointSize === 4, {
      message: 'a checkpoint of all four entries',
    });
    client = new DashboardClient((input, init) => t.node.app.request(input, init));
    expect((await client.login(t.adminKey)).status).toBe(303);
  });

  afterAll(async () => {
    await t?.stop();
    ids = [];
  });

  /** Nothing secret or personal on a page: keys, tokens, references, raw or normalised identifiers. */
  function expectNothingPrivate(html: string): void {
    for (const s of [...secrets, REFERENCE, PHONE, EMAIL, NATIONAL_ID, ...Object.values(NORMALISED)]) expect(html).not.toContain(s);
  }

  it("health: this node's log with its size and checkpoint, standalone, nothing recorded", async () => {
    const html = await page(client, '/dashboard');
    expectNothingPrivate(html);
    expect(html).toContain('Member view · node alpha');
    expect(html).toContain('No roster: this node runs standalone — see README, Setting up a real federation.');
    expect(html).not.toContain('No listings yet');
    expect(html).toMatch(/<a href="\/dashboard\/members\/alpha" class="mono">alpha<\/a><span class="muted"> \(this node\)<\/span><\/td><td class="num">4<\/td><td class="num">4<\/td>/);
    expect(html).toMatch(/(just now|\d+ s ago)<br\/?><span class="muted"><time datetime="[^"]+">\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC<\/time>/);
    expect(html).toContain('None recorded.');
    // No roster, so no witness: the cosignature column says so rather than guess.
    expect(html).toMatch(/<td><span class="muted">—<\/span><\/td><td><span class="muted">—<\/span><\/td><\/tr>/);
  });

  it('statistics overview: a row per member, anomalies, checks and a CSV', async () => {
    const html = await page(client, '/dashboard/members');
    expectNothingPrivate(html);
    expect(html).toMatch(/>alpha<\/a><\/td><td class="num">3<\/td><td class="num">1<\/td><td class="num">33\.3 %<\/td>/);
    expect(html).toContain('<h2>Anomalies</h2>');
    expect(html).toContain('Identifiers tested through this node (alpha) in the window: checks, and watch enrolments');
    expect(html).toContain('<th class="num">Identifiers tested</th>');
    expect(html).toContain('<td>watch</td>');
    const csv = await client.get('/dashboard/members.csv');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="jointban-audit-alpha-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv"$/);
    expect(await csv.text()).toContain('alpha');
  });

  it("a member's page: the daily chart, category mix and identifier types", async () => {
    const html = await page(client, '/dashboard/members/alpha');
    expectNothingPrivate(html);
    expect(html).toMatch(/<svg class="chart daily" viewBox="0 0 1000 260" role="img" aria-label="Listings and retractions per day by alpha, [^"]*: 3 listings, 1 retraction\."/);
    expect(html.match(/class="bar-listings"/g)).toHaveLength(1);
    expect(html.match(/class="bar-retractions"/g)).toHaveLength(1);
    expect(html).toMatch(/<td>fraud<\/td><td class="num">2<\/td><td class="num">66\.7 %<\/td>/);
    expect(html).toMatch(/<td>doxxing<\/td><td class="num">1<\/td>/);
    expect(html).toMatch(/<td>phone<\/td><td class="num">2<\/td>/);
    expect(html).toContain('Without evidence digest');
  });

  it('the window selector: a chosen window, and a clear error for a bad one', async () => {
    const html = await page(client, '/dashboard/members?from=2020-01-01&to=2020-01-31');
    expect(html).toContain('value="2020-01-01"');
    expect(html).toContain('No listings in this window.');
    const member = await page(client, '/dashboard/members/alpha?from=2020-01-01&to=2020-01-31');
    expect(member).toContain('No listings or retractions by alpha in this window.');
    expect(await page(client, '/dashboard/members?from=2020-02-30&to=2020-03-01', 400)).toContain('is not a date; enter one as YYYY-MM-DD.');
    expect(await page(client, '/dashboard/members?from=2020-03-01&to=2020-02-01', 400)).toContain('the last day must not be before the first');
    expect(await page(client, '/dashboard/members?from=2020-01-01&to=2021-06-01', 400)).toContain('longer than 366 days');
    expect(await page(client, '/dashboard/members/nobody', 404)).toContain('This node has no statistics for “nobody”');
  });

  it('listing lookup: status and a receipt that verifies, shown and downloadable', async () => {
    const html = await page(client, `/dashboard/listings?id=${encodeURIComponent(ids[0]!)}`);
    expectNothingPrivate(html);
    expect(html).toContain('<span class="badge ok">active</span>');
    expect(html).toContain(`href="/dashboard/listings/receipt?id=${encodeURIComponent(ids[0]!)}" download="jointban-receipt-alpha-1.json"`);
    const pre = /<pre class="receipt"[^>]*>([\s\S]*?)<\/pre>/.exec(html)?.[1];
    expect(pre).toBeDefined();
    const shown = JSON.parse(
      pre!
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&'),
    ) as unknown;
    const download = await client.get(`/dashboard/listings/receipt?id=${encodeURIComponent(ids[0]!)}`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toBe('attachment; filename="jointban-receipt-alpha-1.json"');
    const receipt = (await download.json()) as unknown;
    expect(receipt).toEqual(shown);
    const key = t.node.identity.publicKey;
    const verified = verifyReceipt(receipt, (m) => (m === 'alpha' ? key : undefined));
    expect(verified.ok, JSON.stringify(verified)).toBe(true);
    expect(fromBase64((receipt as { entry: string }).entry)).toBeDefined();

    const retracted = await page(client, `/dashboard/listings?id=${encodeURIComponent(ids[1]!)}`);
    expect(retracted).toContain('<span class="badge bad">retracted</span>');
    expect(retracted).toContain('appeal upheld');
    expect(retracted).toContain('it was retracted since');
  });

  it('listing lookup as an auditor: the facts without the receipt, whose signed entry carries the tokens', async () => {
    const id = encodeURIComponent(ids[0]!);
    const entry = ((await (await client.get(`/dashboard/listings/receipt?id=${id}`)).json()) as { entry: string }).entry;
    const auditor = new DashboardClient((input, init) => t.node.app.request(input, init));
    expect((await auditor.login(await t.key('auditor'))).status).toBe(303);

    const html = await page(auditor, `/dashboard/listings?id=${id}`);
    expectNothingPrivate(html);
    expect(html).toContain('<span class="badge ok">active</span>');
    expect(html).toContain('Receipts are shown to admin sessions only');
    expect(html).not.toContain('<pre class="receipt"');
    expect(html).not.toContain('/dashboard/listings/receipt?');
    expect(html).not.toContain(entry);

    const download = await auditor.get(`/dashboard/listings/receipt?id=${id}`);
    expect(download.status).toBe(403);
    expect(download.headers.get('content-disposition')).toBeNull();
    const refused = await download.text();
    expect(refused).toContain('they are for admin sessions, not auditor ones');
    expect(refused).not.toContain(entry);
  });

  it('listing lookup: an unknown id says so', async () => {
    const html = await page(client, '/dashboard/listings?id=alpha%3A99', 404);
    expect(html).toContain('No listing “alpha:99” on this node.');
    expect((await client.get('/dashboard/listings/receipt?id=alpha%3A99')).status).toBe(404);
    expect(await page(client, '/dashboard/listings')).toContain('Enter a listing id above.');
  });

  it('an unknown dashboard path is a 404 page', async () => {
    expect(await page(client, '/dashboard/nothing-here', 404)).toContain('There is no dashboard page at /dashboard/nothing-here.');
  });
});

describe('empty states', () => {
  let t: TestNode;
  let client: DashboardClient;

  beforeAll(async () => {
    t = await createTestNode({ listen: false });
    client = new DashboardClient((input, init) => t.node.app.request(input, init));
    const auditor = await t.key('auditor');
    expect((await client.login(auditor)).status).toBe(303);
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('health says what to do', async () => {
    const html = await page(client, '/dashboard');
    expect(html).toContain('No listings yet. Platforms list bans with POST /v1/listings.');
    expect(html).toContain('No roster: this node runs standalone — see README, Setting up a real federation.');
    expect(html).toContain('None recorded.');
  });

  it('statistics and a member page say there is nothing in the window', async () => {
    expect(await page(client, '/dashboard/members')).toContain('No listings in this window.');
    const member = await page(client, '/dashboard/members/alpha');
    expect(member).toContain('No listings or retractions by alpha in this window.');
    expect(member).toContain('No bursts');
    expect(member).toContain('No anomalies in this window');
    expect(member).not.toContain('<svg class="chart daily"');
  });

  it('the lookup says how listings come to exist', async () => {
    expect(await page(client, '/dashboard/listings')).toContain('No listings yet. Platforms list bans with POST /v1/listings.');
  });

  it('the login page keeps the same rules', async () => {
    const fresh = new DashboardClient((input, init) => t.node.app.request(input, init));
    const html = await page(fresh, '/dashboard/login');
    expect(html).toContain('name="_csrf"');
    expect(html).toContain('type="password" name="key"');
  });
});

describe("the association's node", () => {
  it("labels its view as the association's", async () => {
    const t = await createTestNode({ member: 'association', listen: false, extra: { role: 'association' } });
    try {
      const client = new DashboardClient((input, init) => t.node.app.request(input, init));
      expect((await client.login(t.adminKey)).status).toBe(303);
      const html = await page(client, '/dashboard');
      expect(html).toContain('Association view · node association');
      expect(html).toContain('as the association node association mirrors and witnesses it');
      expect(await page(client, '/dashboard/members')).toContain('Every member of the federation');
    } finally {
      await t.stop();
    }
  });
});
