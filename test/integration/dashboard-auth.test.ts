/**
 * The dashboard's sign-in, session cookie, CSRF defences and session lifetime, against a real
 * node's app in-process. The node runs on a clock the test moves, so idle and absolute expiry and
 * the revocation re-check are shown without waiting.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../helpers/test-node.js';
import { csrfToken, DashboardClient } from '../helpers/dashboard-client.js';

const MIN = 60_000;

let t: TestNode;
let clock: number;
let client: DashboardClient;

function clientAt(origin: string): DashboardClient {
  return new DashboardClient((input, init) => t.node.app.request(input, init), origin);
}

beforeEach(async () => {
  clock = Date.parse('2026-11-22T14:05:00.000Z');
  t = await createTestNode({ now: () => new Date(clock), listen: false });
  client = clientAt('http://127.0.0.1');
});

afterEach(async () => {
  await t.stop();
});

function sessionCookie(c: DashboardClient): string | undefined {
  return c.lastSetCookies.find((s) => s.startsWith('jb_dashboard_session='));
}

describe('sign-in is required', () => {
  it('redirects every page to the login page without a session', async () => {
    for (const path of ['/dashboard', '/dashboard/members', '/dashboard/members/alpha', '/dashboard/listings?id=alpha:1', '/dashboard/listings/receipt?id=alpha:1', '/dashboard/nope']) {
      const res = await client.get(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get('location'), path).toBe('/dashboard/login?reason=required');
    }
  });

  it('answers a forged session id like no session', async () => {
    client.cookies.set('jb_dashboard_session', 'A'.repeat(43));
    const res = await client.get('/dashboard');
    expect(res.headers.get('location')).toBe('/dashboard/login?reason=required');
  });
});

describe('which keys may sign in', () => {
  it('refuses an unknown key and shows why, without echoing it', async () => {
    const wrong = `jb_${'a'.repeat(12)}_${'b'.repeat(43)}`;
    const res = await client.login(wrong);
    expect(res.status).toBe(401);
    const html = await res.text();
    expect(html).toContain('That API key is unknown or was revoked.');
    expect(html).not.toContain(wrong);
    expect(sessionCookie(client)).toBeUndefined();
  });

  it.each(['check', 'write'] as const)('refuses a %s key', async (scope) => {
    const res = await client.login(await t.key(scope));
    expect(res.status).toBe(403);
    expect(await res.text()).toContain(`That key has scope “${scope}”. The dashboard needs an admin or auditor key.`);
    expect(sessionCookie(client)).toBeUndefined();
    expect((await client.get('/dashboard')).status).toBe(303);
  });

  it.each(['admin', 'auditor'] as const)('accepts an %s key and opens the health page', async (scope) => {
    const created = await t.node.keys.create(scope, `dashboard ${scope}`);
    const res = await client.login(created.key);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard');
    const cookie = sessionCookie(client)!;
    expect(cookie).toBeDefined();
    expect(cookie).not.toContain(created.key);
    expect(cookie).not.toContain(created.id);
    const page = await client.get('/dashboard');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<h1>Federation health</h1>');
    expect(html).toContain(`Key “dashboard ${scope}” (${scope})`);
    expect(html).not.toContain(created.key);
  });
});

describe('cookie flags', () => {
  it('sets HttpOnly, SameSite=Strict and Path=/dashboard, without Secure on loopback', async () => {
    await client.login(t.adminKey);
    const cookie = sessionCookie(client)!;
    expect(cookie).toMatch(/^jb_dashboard_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\/dashboard/);
    expect(cookie).not.toMatch(/; Secure/);
  });

  it.each([
    ['https://jointban.example', {}],
    ['http://node.platform.example', {}],
    ['http://127.0.0.1', { 'x-forwarded-proto': 'https' }],
  ] as const)('adds Secure at %s %j', async (origin, headers) => {
    const c = clientAt(origin);
    const page = await c.get('/dashboard/login', headers);
    expect(c.lastSetCookies.find((s) => s.startsWith('jb_dashboard_login='))).toMatch(/; Secure/);
    await c.post('/dashboard/login', { _csrf: csrfToken(await page.text()), key: t.adminKey }, { headers });
    expect(sessionCookie(c)).toMatch(/; Secure/);
    expect(sessionCookie(c)).toMatch(/; HttpOnly/);
  });

  it('warns on the login page when plain HTTP to another host would lose the cookie', async () => {
    expect(await (await clientAt('http://node.platform.example').get('/dashboard/login')).text()).toContain('reached over plain HTTP');
    expect(await (await clientAt('http://127.0.0.1').get('/dashboard/login')).text()).not.toContain('reached over plain HTTP');
  });
});

describe('CSRF', () => {
  beforeEach(async () => {
    expect((await client.login(t.adminKey)).status).toBe(303);
  });

  it('refuses a sign-out without the session token, and the session lives on', async () => {
    const res = await client.post('/dashboard/logout', {});
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Form refused');
    expect((await client.post('/dashboard/logout', { _csrf: 'x'.repeat(43) })).status).toBe(403);
    expect((await client.get('/dashboard')).status).toBe(200);
  });

  it('refuses a post from another origin even with the right token', async () => {
    const token = await client.pageToken();
    const res = await client.post('/dashboard/logout', { _csrf: token }, { origin: 'https://evil.example', secFetchSite: 'cross-site' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('sent from another site');
    expect((await client.post('/dashboard/logout', { _csrf: token }, { origin: null, secFetchSite: 'cross-site' })).status).toBe(403);
    expect((await client.post('/dashboard/logout', { _csrf: token }, { origin: null, secFetchSite: null })).status).toBe(403);
    expect((await client.get('/dashboard')).status).toBe(200);
  });

  it('refuses a sign-in without the login form token or from another origin', async () => {
    const fresh = clientAt('http://127.0.0.1');
    const noToken = await fresh.post('/dashboard/login', { key: t.adminKey });
    expect(noToken.status).toBe(403);
    expect(sessionCookie(fresh)).toBeUndefined();
    const page = await fresh.get('/dashboard/login');
    const token = csrfToken(await page.text());
    const crossSite = await fresh.post('/dashboard/login', { _csrf: token, key: t.adminKey }, { origin: 'https://evil.example', secFetchSite: 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect(sessionCookie(fresh)).toBeUndefined();
    // A token that was never issued to this browser does not match its cookie.
    fresh.cookies.set('jb_dashboard_login', 'y'.repeat(43));
    expect((await fresh.post('/dashboard/login', { _csrf: token, key: t.adminKey })).status).toBe(403);
  });

  it('signs out with the token: the cookie is cleared and the old session id is dead', async () => {
    const old = client.cookies.get('jb_dashboard_session')!;
    const res = await client.post('/dashboard/logout', { _csrf: await client.pageToken() });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard/login?reason=signed-out');
    expect(sessionCookie(client)).toMatch(/Max-Age=0/);
    expect(await (await client.get('/dashboard/login?reason=signed-out')).text()).toContain('You are signed out.');
    client.cookies.set('jb_dashboard_session', old);
    expect((await client.get('/dashboard')).headers.get('location')).toBe('/dashboard/login?reason=required');
  });
});

describe('session lifetime', () => {
  beforeEach(async () => {
    expect((await client.login(t.adminKey)).status).toBe(303);
  });

  it('ends after 30 minutes without a request', async () => {
    clock += 29 * MIN;
    expect((await client.get('/dashboard')).status).toBe(200);
    clock += 31 * MIN;
    const res = await client.get('/dashboard');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard/login?reason=expired');
    expect(await (await client.get('/dashboard/login?reason=expired')).text()).toContain('Your session ended');
  });

  it('ends 8 hours after sign-in however busy', async () => {
    for (let elapsed = 0; elapsed < 8 * 60 - 20; elapsed += 20) {
      clock += 20 * MIN;
      expect((await client.get('/dashboard')).status).toBe(200);
    }
    clock += 25 * MIN;
    expect((await client.get('/dashboard')).headers.get('location')).toBe('/dashboard/login?reason=expired');
  });

  it('ends within 30 seconds of its key being revoked', async () => {
    const auditor = await t.node.keys.create('auditor', 'revoked soon');
    const c = clientAt('http://127.0.0.1');
    expect((await c.login(auditor.key)).status).toBe(303);
    await t.node.keys.revoke(auditor.id);
    clock += 31_000;
    const res = await c.get('/dashboard');
    expect(res.headers.get('location')).toBe('/dashboard/login?reason=revoked');
    // The admin session of the same browser profile is untouched.
    expect((await client.get('/dashboard')).status).toBe(200);
    expect((await c.login(auditor.key)).status).toBe(401);
  });
});
