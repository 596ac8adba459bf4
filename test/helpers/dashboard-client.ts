/**
 * A browser stand-in for dashboard tests: keeps cookies like a browser would (by name, dropping
 * one set with Max-Age=0), sends the Origin and Sec-Fetch-Site headers a same-origin form post
 * carries, and reads the CSRF token out of a page's form. Requests go to a node's hono app
 * in-process (`app.request`), at a chosen origin, so the cookie and cross-site rules can be tried
 * for loopback and non-loopback hosts alike.
 */
export type Fetcher = (input: string, init?: RequestInit) => Response | Promise<Response>;

export interface PostOptions {
  /** The Origin header; null sends none. Defaults to the client's own origin. */
  origin?: string | null;
  /** The Sec-Fetch-Site header; null sends none. Defaults to same-origin. */
  secFetchSite?: string | null;
  headers?: Record<string, string>;
}

export class DashboardClient {
  readonly cookies = new Map<string, string>();
  /** The raw Set-Cookie headers of the last response. */
  lastSetCookies: string[] = [];

  constructor(
    private readonly fetcher: Fetcher,
    readonly origin = 'http://127.0.0.1',
  ) {}

  private cookieHeader(): Record<string, string> {
    if (this.cookies.size === 0) return {};
    return { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }

  private remember(res: Response): Response {
    this.lastSetCookies = res.headers.getSetCookie();
    for (const line of this.lastSetCookies) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/;\s*max-age=0\b/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.remember(await this.fetcher(`${this.origin}${path}`, { headers: { ...this.cookieHeader(), ...headers }, redirect: 'manual' }));
  }

  async post(path: string, fields: Record<string, string>, opts: PostOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...this.cookieHeader(), ...opts.headers };
    const origin = opts.origin === undefined ? this.origin : opts.origin;
    const site = opts.secFetchSite === undefined ? 'same-origin' : opts.secFetchSite;
    if (origin !== null) headers.origin = origin;
    if (site !== null) headers['sec-fetch-site'] = site;
    return this.remember(await this.fetcher(`${this.origin}${path}`, { method: 'POST', headers, body: new URLSearchParams(fields).toString(), redirect: 'manual' }));
  }

  /** Opens the login page and posts the key with the form's token; returns the POST's response. */
  async login(key: string): Promise<Response> {
    const page = await this.get('/dashboard/login');
    return this.post('/dashboard/login', { _csrf: csrfToken(await page.text()), key });
  }

  /** The CSRF token of the first form on the page that carries one (the sign-out form on signed-in pages). */
  async pageToken(path = '/dashboard'): Promise<string> {
    return csrfToken(await (await this.get(path)).text());
  }
}

export function csrfToken(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token in the page');
  return m[1]!;
}

/** Every URL a page would load or navigate to: src, href and form action attributes. */
export function urlsIn(html: string): string[] {
  return [...html.matchAll(/\s(?:src|href|action|srcset|poster|formaction)="([^"]*)"/gi)].map((m) => m[1]!);
}

/** A URL that stays on the node: a path, a fragment or a query, or inline data. */
export function isLocalUrl(url: string): boolean {
  return (url.startsWith('/') && !url.startsWith('//')) || url.startsWith('#') || url.startsWith('?') || url.startsWith('data:');
}
