/**
 * Signing in and out of the dashboard, and the middleware that admits a request only with a live
 * session. Sign-in takes an API key of scope admin or auditor (ApiKeyService.authenticate), then
 * hands the browser a session cookie; the key itself is never stored or echoed. Every POST passes
 * two CSRF defences: the cross-site check (Origin / Sec-Fetch-Site, security.ts) and a token
 * (the session's synchronizer token, or the login form's double-submit cookie).
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { SecureHeadersVariables } from 'hono/secure-headers';
import type { AppEnv } from '../env.js';
import { decodeBody } from '../middleware.js';
import { AppError } from '../../errors.js';
import { scopeAllows, type ApiKeyService, type Principal } from '../../service/api-keys.js';
import { MessagePage, type NodeInfo, type Viewer } from './layout.js';
import { isLoginReason, LOGIN_MESSAGES, LoginPage, type LoginReason } from './login-page.js';
import { newToken, tokensMatch, type DashboardSession, type SessionStore } from './sessions.js';
import { cookieOptions, cookieWillBeDropped, CSRF_FIELD, LOGIN_COOKIE, rejectCrossSite, SESSION_COOKIE } from './security.js';

export interface DashboardEnv {
  Variables: AppEnv['Variables'] &
    SecureHeadersVariables & {
      session: DashboardSession;
      sessionId: string;
    };
}

export interface AuthDeps {
  node: NodeInfo;
  publicUrl: string | undefined;
  keys: ApiKeyService;
  sessions: SessionStore;
}

/** Form posts are a key or a token: a few hundred bytes. */
const MAX_FORM_BYTES = 8 * 1024;
const LOGIN_TOKEN_MAX_AGE_S = 3600;

export function nonceOf(c: Context<DashboardEnv>): string {
  return c.get('secureHeadersNonce') ?? '';
}

export function viewerOf(c: Context<DashboardEnv>): Viewer {
  const s = c.get('session');
  return { keyName: s.keyName, scope: s.scope, csrfToken: s.csrfToken };
}

function loginRedirect(c: Context<DashboardEnv>, reason: LoginReason): Response {
  return c.redirect(`/dashboard/login?reason=${reason}`, 303);
}

async function formField(c: Context<DashboardEnv>, name: string): Promise<string | undefined> {
  const body = await c.req.parseBody();
  const value = body[name];
  return typeof value === 'string' ? value : undefined;
}

/** Admits a request with a live session (setting `session`), or sends the browser to sign in. */
export function requireSession(deps: AuthDeps): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    const id = getCookie(c, SESSION_COOKIE);
    const resumed = await deps.sessions.resume(id);
    if (!resumed.ok) {
      if (id !== undefined) deleteCookie(c, SESSION_COOKIE, cookieOptions(c, deps.publicUrl));
      return loginRedirect(c, resumed.reason === 'none' ? 'required' : resumed.reason);
    }
    c.set('session', resumed.session);
    c.set('sessionId', id!);
    await next();
  };
}

/**
 * Refuses (400 `invalid_encoding`) a form whose bytes, or whose percent-escapes, are not UTF-8:
 * `parseBody()` would read them as U+FFFD, so different bytes would sign in or match as one.
 */
async function requireUtf8Form(c: Context<DashboardEnv>): Promise<void> {
  const text = decodeBody(new Uint8Array(await c.req.arrayBuffer()));
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(c.req.header('content-type') ?? '')) return;
  for (const part of text.split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      throw new AppError('invalid_encoding', 'the form is not valid UTF-8');
    }
  }
}

/** The checks before a form post's body is read: same-site origin, then a small body that is UTF-8. */
export function formLimits(publicUrl: string | undefined): [MiddlewareHandler<DashboardEnv>, MiddlewareHandler<DashboardEnv>] {
  const limit = bodyLimit({
    maxSize: MAX_FORM_BYTES,
    onError: () => {
      throw new AppError('payload_too_large', `the form is larger than ${MAX_FORM_BYTES} bytes`);
    },
  });
  return [
    rejectCrossSite(publicUrl),
    (c, next) =>
      limit(c, async () => {
        await requireUtf8Form(c);
        await next();
      }),
  ];
}

export function mountAuth(app: Hono<DashboardEnv>, deps: AuthDeps): void {
  const { node, publicUrl, sessions } = deps;
  const [crossSite, smallBody] = formLimits(publicUrl);

  const renderLogin = (c: Context<DashboardEnv>, status: 200 | 401 | 403, message?: { tone: 'error' | 'notice'; text: string }) => {
    // A fresh double-submit token with every form shown, so a stale tab fails closed, not open.
    const token = newToken();
    setCookie(c, LOGIN_COOKIE, token, cookieOptions(c, publicUrl, LOGIN_TOKEN_MAX_AGE_S));
    return c.html(<LoginPage nonce={nonceOf(c)} node={node} csrfToken={token} message={message} insecureTransport={cookieWillBeDropped(c, publicUrl)} />, status);
  };

  app.get('/login', async (c) => {
    const resumed = await sessions.resume(getCookie(c, SESSION_COOKIE));
    if (resumed.ok) return c.redirect('/dashboard', 303);
    const reason = c.req.query('reason');
    const text = isLoginReason(reason) && reason !== 'required' ? LOGIN_MESSAGES[reason] : undefined;
    return renderLogin(c, 200, text ? { tone: 'notice', text } : undefined);
  });

  app.post('/login', crossSite, smallBody, async (c) => {
    const body = await c.req.parseBody();
    const token = typeof body[CSRF_FIELD] === 'string' ? body[CSRF_FIELD] : undefined;
    if (!tokensMatch(token, getCookie(c, LOGIN_COOKIE))) {
      return renderLogin(c, 403, { tone: 'error', text: 'The sign-in form had expired or came from elsewhere. Try again.' });
    }
    const key = typeof body.key === 'string' ? body.key.trim() : '';
    const log = c.get('log');
    let principal: Principal;
    try {
      principal = await deps.keys.authenticate(key);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'unauthorized') throw err;
      log.warn('dashboard sign-in refused: unknown or revoked key');
      return renderLogin(c, 401, { tone: 'error', text: 'That API key is unknown or was revoked.' });
    }
    if (!scopeAllows(principal.scope, 'auditor')) {
      log.warn({ keyId: principal.keyId, scope: principal.scope }, 'dashboard sign-in refused: scope');
      return renderLogin(c, 403, {
        tone: 'error',
        text: `That key has scope “${principal.scope}”. The dashboard needs an admin or auditor key.`,
      });
    }
    sessions.end(getCookie(c, SESSION_COOKIE));
    const { id } = sessions.create(principal);
    deleteCookie(c, LOGIN_COOKIE, cookieOptions(c, publicUrl));
    // No Max-Age: the cookie ends with the browser session; the server ends it sooner (sessions.ts).
    setCookie(c, SESSION_COOKIE, id, cookieOptions(c, publicUrl));
    log.info({ keyId: principal.keyId, scope: principal.scope }, 'dashboard sign-in');
    return c.redirect('/dashboard', 303);
  });

  app.post('/logout', crossSite, smallBody, requireSession(deps), async (c) => {
    if (!tokensMatch(await formField(c, CSRF_FIELD), c.get('session').csrfToken)) return refuseForm(c, node);
    sessions.end(c.get('sessionId'));
    deleteCookie(c, SESSION_COOKIE, cookieOptions(c, publicUrl));
    c.get('log').info({ keyId: c.get('session').keyId }, 'dashboard sign-out');
    return loginRedirect(c, 'signed-out');
  });
}

/** The answer to a form post without a valid token. */
export function refuseForm(c: Context<DashboardEnv>, node: NodeInfo): Response | Promise<Response> {
  const session = c.get('session') as DashboardSession | undefined;
  return c.html(
    <MessagePage nonce={nonceOf(c)} node={node} viewer={session ? viewerOf(c) : undefined} title="Form refused">
      The form was sent without this session's token, or from another site. Reload the page and try again.
    </MessagePage>,
    403,
  );
}
