/**
 * The dashboard's browser-facing security settings, in one place: cookie flags, the rule for
 * `Secure`, the Content-Security-Policy and the cross-site request check.
 *
 * `Secure` rule: the cookie is marked Secure unless the request reached the node as plain HTTP
 * addressed to a loopback host (localhost, 127.0.0.0/8, ::1) — that is, always, except for an
 * operator browsing a node on their own machine. A request counts as HTTPS when its URL is https,
 * when `X-Forwarded-Proto: https` (a TLS-terminating proxy said so; trusting that header can only
 * add the flag, never remove it), or when `http.publicUrl` is https (a proxy that rewrites Host to
 * 127.0.0.1). A node served over plain HTTP to a non-loopback host therefore cannot keep a
 * session: the browser drops the cookie, and the login page says why.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { CookieOptions } from 'hono/utils/cookie';
import { csrf } from 'hono/csrf';
import { NONCE, secureHeaders } from 'hono/secure-headers';

export const DASHBOARD_PATH = '/dashboard';
export const SESSION_COOKIE = 'jb_dashboard_session';
/** The login form's double-submit token: there is no session to hold a token before login. */
export const LOGIN_COOKIE = 'jb_dashboard_login';
/** The form field that carries the CSRF token. */
export const CSRF_FIELD = '_csrf';

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Whether the browser reached this node over TLS, as far as the node can tell. */
export function requestIsHttps(c: Context, publicUrl: string | undefined): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  if ((c.req.header('x-forwarded-proto') ?? '').split(',')[0]?.trim().toLowerCase() === 'https') return true;
  return publicUrl !== undefined && publicUrl.startsWith('https:');
}

/** The `Secure` rule above. */
export function cookieSecure(c: Context, publicUrl: string | undefined): boolean {
  return requestIsHttps(c, publicUrl) || !isLoopbackHost(new URL(c.req.url).hostname);
}

/** True when the browser will refuse the session cookie: plain HTTP to a host that is not loopback. */
export function cookieWillBeDropped(c: Context, publicUrl: string | undefined): boolean {
  return !requestIsHttps(c, publicUrl) && !isLoopbackHost(new URL(c.req.url).hostname);
}

export function cookieOptions(c: Context, publicUrl: string | undefined, maxAgeSeconds?: number): CookieOptions {
  return {
    path: DASHBOARD_PATH,
    httpOnly: true,
    sameSite: 'Strict',
    secure: cookieSecure(c, publicUrl),
    ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds } : {}),
  };
}

/**
 * Browser security headers. No script may run at all (default-src 'none' and no script-src);
 * the one stylesheet is inline with a per-response nonce; images only from here or data: URLs;
 * forms post only here; no framing. HSTS is left to the TLS-terminating proxy, which knows
 * whether every subdomain is ready for it.
 */
export function dashboardHeaders(): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      styleSrc: [NONCE],
      imgSrc: ["'self'", 'data:'],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
    strictTransportSecurity: false,
    xFrameOptions: 'DENY',
    permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [] },
  });
}

/**
 * Rejects a cross-site form POST before anything reads its body: the browser's `Sec-Fetch-Site`
 * must say same-origin, or its `Origin` must be this node (as addressed, or its public URL).
 * A request with neither header is refused too: every browser that could be tricked into
 * posting sends at least one. The per-session token is checked on top, in the handlers.
 */
export function rejectCrossSite(publicUrl: string | undefined): MiddlewareHandler {
  const publicOrigin = publicUrl ? new URL(publicUrl).origin : undefined;
  return csrf({
    secFetchSite: 'same-origin',
    origin: (origin, c) => origin === new URL(c.req.url).origin || origin === publicOrigin,
  });
}
