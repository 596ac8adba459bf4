/**
 * The dashboard in a real browser: Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core) against a small federation on loopback. Signs in through the form, reads the
 * health page, opens a member's statistics with its chart, looks up a listing (an auditor gets
 * no receipt), signs out — at 1280×800 and 1024×768, checking the page never scrolls sideways, the
 * CSP blocks nothing the page needs, and no request ever leaves loopback. Screenshots go to
 * $DASHBOARD_SCREENSHOTS (kept) or a temp directory (removed).
 *
 * Without Chromium the file is skipped with one line saying so (test/helpers/optional-suite.ts);
 * CI installs it and sets JOINTBAN_REQUIRE_ALL_SUITES=1, which turns that skip into a failure.
 * JOINTBAN_CHROMIUM names another Chromium binary.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../src/api/dashboard/security.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { email, nationalId, phone } from '../helpers/fixtures.js';
import { suiteCanRun } from '../helpers/optional-suite.js';

const CHROMIUM = process.env.JOINTBAN_CHROMIUM ?? '/usr/bin/chromium';
const browserPresent = suiteCanRun({
  suite: 'dashboard browser tests',
  missing: existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found`,
  enable: 'apt-get install chromium (or set JOINTBAN_CHROMIUM to its path)',
});
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// Generous limits, not timing assertions: a browser on a busy CI machine can be slow to start.
const BROWSER_TIMEOUT_MS = 120_000;
const SIZES = [
  { width: 1280, height: 800 },
  { width: 1024, height: 768 },
] as const;

let fed: TestFederation;
let context: BrowserContext;
let page: Page;
let base: string;
let auditorKey: string;
let profile: string;
let shots: string;
const keepShots = process.env.DASHBOARD_SCREENSHOTS !== undefined;
const offLoopback: string[] = [];
const consoleErrors: string[] = [];

/** At each width: a screenshot, and no horizontal scrollbar. */
async function checkLayout(name: string): Promise<void> {
  for (const size of SIZES) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(shots, `${name}-${size.width}.png`), fullPage: true });
    // A string, evaluated in the page: the test's TypeScript has no DOM types.
    const overflow = (await page.evaluate('({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth })')) as { scroll: number; inner: number };
    expect(overflow.scroll, `${name} at ${size.width} px scrolls sideways`).toBeLessThanOrEqual(overflow.inner);
  }
  await page.setViewportSize(SIZES[0]);
}

// The hooks live inside the suite, so a skipped suite starts no federation.
describe.runIf(browserPresent)('the dashboard in Chromium', { timeout: BROWSER_TIMEOUT_MS }, () => {
  beforeAll(async () => {
    fed = await createFederation(2);
    const a = await fed.list('alpha', [phone()], { category: 'fraud' });
    await fed.list('alpha', [email()], { category: 'doxxing' });
    await fed.list('beta', [nationalId()], { category: 'rumor' });
    await fed.retract('alpha', a.id);
    await waitFor(async () => (await fed.logSize('association', 'alpha')) === 3 && (await fed.logSize('association', 'beta')) === 1, {
      message: 'the association to mirror both logs',
    });
    // The association witnesses every member checkpoint it verified: wait until both are cosigned.
    await waitFor(async () => (await fed.association.node.federation.status()).origins.filter((o) => o.cosigned === true && o.checkpointSize === o.size && o.size > 0).length === 2, {
      message: 'the association to cosign both logs',
    });
    auditorKey = (await fed.association.node.keys.create('auditor', 'association auditor')).key;
    base = fed.association.url;

    shots = process.env.DASHBOARD_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'jointban-dashboard-shots-'));
    profile = mkdtempSync(join(tmpdir(), 'jointban-chromium-profile-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: SIZES[0],
      acceptDownloads: true,
    });
    context.setDefaultTimeout(BROWSER_TIMEOUT_MS / 2);
    page = context.pages()[0] ?? (await context.newPage());
    context.on('request', (req) => {
      const url = new URL(req.url());
      if (url.protocol !== 'data:' && !isLoopbackHost(url.hostname)) offLoopback.push(req.url());
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
  }, 3 * BROWSER_TIMEOUT_MS);

  afterAll(async () => {
    await context?.close();
    await fed?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (shots && !keepShots) rmSync(shots, { recursive: true, force: true });
  }, BROWSER_TIMEOUT_MS);

  it('signs in through the form and shows the federation health', async () => {
    await page.goto(`${base}/dashboard`);
    expect(new URL(page.url()).pathname).toBe('/dashboard/login');
    await checkLayout('login');
    await page.fill('input[name="key"]', auditorKey);
    await page.click('button:has-text("Sign in")');
    await page.waitForURL(`${base}/dashboard`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Federation health');
    const logRow = (member: string) => page.locator(`table.logs tr:has(td:first-child a:text-is("${member}"))`);
    await expect(logRow('alpha').locator('td.num').first().textContent()).resolves.toBe('3');
    await expect(logRow('beta').locator('td.num').first().textContent()).resolves.toBe('1');
    await expect(logRow('alpha').locator('.badge').textContent()).resolves.toBe('cosigned');
    await expect(page.locator('header').textContent()).resolves.toContain('Association view');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'jb_dashboard_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    expect(session?.path).toBe('/dashboard');
    await checkLayout('health');
  });

  it("opens a member's statistics with a sized chart", async () => {
    await page.click('nav >> text=Member statistics');
    await page.waitForURL(`${base}/dashboard/members`);
    await checkLayout('members');
    await page.click('table.members >> a:text-is("alpha")');
    await page.waitForURL(/\/dashboard\/members\/alpha\?/);
    const chart = page.locator('svg.chart.daily');
    for (const size of SIZES) {
      await page.setViewportSize(size);
      const box = await chart.boundingBox();
      expect(box, 'the daily chart is drawn').not.toBeNull();
      expect(box!.width).toBeGreaterThan(600);
      expect(box!.height).toBeGreaterThan(150);
    }
    await expect(chart.locator('rect.bar-listings').count()).resolves.toBe(1);
    await expect(chart.locator('rect.bar-retractions').count()).resolves.toBe(1);
    await expect(page.locator('table.mix').first().textContent()).resolves.toContain('doxxing');
    await checkLayout('member-alpha');
  });

  it('looks up a listing; the auditor sees its facts, and no receipt (it carries the tokens)', async () => {
    await page.click('nav >> text=Listing lookup');
    await page.fill('input[name="id"]', 'alpha:1');
    await page.click('button:has-text("Look up")');
    await page.waitForURL(/\/dashboard\/listings\?id=alpha%3A1$/);
    await expect(page.locator('.badge').first().textContent()).resolves.toBe('retracted');
    await expect(page.locator('main').textContent()).resolves.toContain('Receipts are shown to admin sessions only');
    await expect(page.locator('pre.receipt').count()).resolves.toBe(0);
    await expect(page.locator('text=Download receipt (JSON)').count()).resolves.toBe(0);
    await checkLayout('listing');
  });

  it('signs out, and the dashboard asks to sign in again', async () => {
    await page.click('button:has-text("Sign out")');
    await page.waitForURL(/\/dashboard\/login\?reason=signed-out$/);
    await expect(page.locator('.login').textContent()).resolves.toContain('You are signed out.');
    await page.goto(`${base}/dashboard`);
    expect(new URL(page.url()).pathname).toBe('/dashboard/login');
  });

  it('never left loopback and broke no content rule', () => {
    expect(offLoopback).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
