/**
 * The web dashboard every node serves at /dashboard: federation health, per-member statistics
 * and a listing lookup with receipts, behind a sign-in with an admin or auditor API key. Pages
 * are rendered on the server with hono/jsx and work without script; the CSP forbids any
 * (security.ts). The association's node shows every member; a member's node itself and its
 * peers, from the logs it mirrors. Mounted by the composition root (src/node.ts).
 */
import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AppError } from '../../errors.js';
import type { FederationStatus } from '../../federation/federation.js';
import type { Receipt } from '../../log/receipt.js';
import type { Roster } from '../../roster/index.js';
import { scopeAllows, type ApiKeyService } from '../../service/api-keys.js';
import type { CheckMatch } from '../../service/checks.js';
import type { ListingView } from '../../service/listings.js';
import { CSV_CONTENT_TYPE } from '../../common/csv.js';
import { reportToCsv } from '../../audit/report-csv.js';
import type { AuditReport } from '../../audit/report-types.js';
import type { AuditWindow } from '../../audit/window.js';
import { formLimits, mountAuth, nonceOf, requireSession, viewerOf, type DashboardEnv } from './auth.js';
import { HealthPage } from './health-page.js';
import { MessagePage, type NodeInfo } from './layout.js';
import { ListingPage, receiptFileName } from './listing-page.js';
import { dashboardHeaders } from './security.js';
import { SESSION_DEFAULTS, SessionStore, type SessionOptions } from './sessions.js';
import { MemberPage, MembersPage } from './stats-pages.js';
import { chooseWindow } from './window-form.js';

export interface DashboardDeps {
  node: NodeInfo;
  /** `http.publicUrl`: its origin is accepted on form posts, and an https one makes cookies Secure. */
  publicUrl?: string | undefined;
  keys: ApiKeyService;
  status: () => Promise<FederationStatus>;
  roster: () => Roster | undefined;
  report: (window: AuditWindow) => Promise<AuditReport>;
  listing: (id: string) => Promise<ListingView>;
  receiptsFor: (matches: readonly CheckMatch[]) => Promise<Receipt[]>;
  now: () => Date;
  sessions?: Partial<SessionOptions> | undefined;
}

const LISTING_ID_MAX = 80;

export function dashboardRoutes(deps: DashboardDeps): Hono<DashboardEnv> {
  const { node } = deps;
  const app = new Hono<DashboardEnv>().basePath('/dashboard');
  const sessions = new SessionStore(deps.now, async (keyId) => (await deps.keys.list()).some((k) => k.id === keyId && k.revoked_at === null), { ...SESSION_DEFAULTS, ...deps.sessions });
  const auth = { node, publicUrl: deps.publicUrl, keys: deps.keys, sessions };

  app.use('*', dashboardHeaders());
  app.use('*', async (c, next) => {
    await next();
    // Pages show audit data: no shared or browser cache may keep them.
    c.res.headers.set('cache-control', 'no-store');
  });
  app.onError((err, c) => errorPage(err, c, node));

  mountAuth(app, auth);

  const session = requireSession(auth);
  const html = (c: Context<DashboardEnv>) => ({ nonce: nonceOf(c), node, viewer: viewerOf(c) });

  app.get('/', session, async (c) => {
    const status = await deps.status();
    return c.html(<HealthPage {...html(c)} status={status} roster={deps.roster()} now={deps.now()} />);
  });

  app.get('/members', session, async (c) => {
    const choice = chooseWindow({ from: c.req.query('from'), to: c.req.query('to') }, deps.now());
    const common = { ...html(c), days: choice.days, roster: deps.roster() };
    if (!choice.ok) return c.html(<MembersPage {...common} error={choice.error} />, 400);
    return c.html(<MembersPage {...common} report={await deps.report(choice.window)} />);
  });

  app.get('/members.csv', session, async (c) => {
    const choice = chooseWindow({ from: c.req.query('from'), to: c.req.query('to') }, deps.now());
    if (!choice.ok) throw new AppError('invalid_input', choice.error);
    const report = await deps.report(choice.window);
    c.header('content-type', CSV_CONTENT_TYPE);
    c.header('content-disposition', `attachment; filename="jointban-audit-${report.node}-${choice.days.from}-${choice.days.to}.csv"`);
    return c.body(reportToCsv(report));
  });

  app.get('/members/:member', session, async (c) => {
    const member = c.req.param('member');
    const choice = chooseWindow({ from: c.req.query('from'), to: c.req.query('to') }, deps.now());
    const common = { ...html(c), days: choice.days, roster: deps.roster() };
    if (!choice.ok) return c.html(<MembersPage {...common} error={choice.error} />, 400);
    const report = await deps.report(choice.window);
    const stats = report.members.find((m) => m.member === member);
    if (!stats) {
      return c.html(
        <MessagePage {...html(c)} title="No such member">
          This node has no statistics for “{member.slice(0, 40)}”: it is not in the roster and made no entry in the window.
        </MessagePage>,
        404,
      );
    }
    return c.html(<MemberPage {...common} report={report} stats={stats} />);
  });

  app.get('/listings', session, async (c) => {
    const query = (c.req.query('id') ?? '').trim().slice(0, LISTING_ID_MAX);
    const hasEntries = (await deps.status()).origins.some((o) => o.size > 0);
    const page = { ...html(c), query, hasEntries };
    if (query === '') return c.html(<ListingPage {...page} />);
    const listing = await findListing(deps, query);
    if (!listing) {
      const error = `No listing “${query}” on this node. Ids look like alpha:17; another member's listing arrives here at the next sync after its origin lists it.`;
      return c.html(<ListingPage {...page} error={error} />, 404);
    }
    if (!mayHoldReceipts(c)) return c.html(<ListingPage {...page} listing={listing} receiptWithheld />);
    return c.html(<ListingPage {...page} listing={listing} receipt={await receiptOf(deps, listing)} />);
  });

  app.get('/listings/receipt', session, async (c) => {
    if (!mayHoldReceipts(c)) throw new AppError('forbidden', 'receipts carry the listed person’s tokens: they are for admin sessions, not auditor ones');
    const id = (c.req.query('id') ?? '').trim().slice(0, LISTING_ID_MAX);
    const listing = await findListing(deps, id);
    const receipt = listing ? await receiptOf(deps, listing) : undefined;
    if (!listing || !receipt) throw new AppError('not_found', `no receipt for listing ${id} on this node yet`);
    c.header('content-disposition', `attachment; filename="${receiptFileName(listing.id)}"`);
    return c.json(receipt);
  });

  // Form posts that reach no route still pass the cross-site check, then get a plain 404.
  const [crossSite, smallBody] = formLimits(deps.publicUrl);
  app.post('*', crossSite, smallBody, session, (c) => notFoundPage(c, node));
  app.get('*', session, (c) => notFoundPage(c, node));
  return app;
}

/**
 * Whether the session may see receipts: a receipt's signed entry carries the tokens of every
 * identifier of the listed account, and an auditor is to see counts and listing facts, never
 * tokens (docs/SECURITY.md). Admin sessions may; the platform hands a receipt to whom it chooses.
 */
function mayHoldReceipts(c: Context<DashboardEnv>): boolean {
  return scopeAllows(c.get('session').scope, 'admin');
}

async function findListing(deps: DashboardDeps, id: string): Promise<ListingView | undefined> {
  try {
    return await deps.listing(id);
  } catch (err) {
    if (err instanceof AppError && err.code === 'not_found') return undefined;
    throw err;
  }
}

/**
 * The receipt of a listing, built the way a check builds one. `receiptsFor` reads only the
 * listing id of a match; the rest of the match is filled in from the listing for the type's sake.
 */
async function receiptOf(deps: DashboardDeps, l: ListingView): Promise<Receipt | undefined> {
  const type = l.tokens[0]?.type;
  if (!type) return undefined;
  const match: CheckMatch = {
    listingId: l.id,
    origin: l.origin,
    category: l.category,
    severity: l.severity,
    identifierType: type,
    bannedAt: l.bannedAt,
    banUntil: l.banUntil,
    expiresAt: l.expiresAt,
  };
  return (await deps.receiptsFor([match]))[0];
}

function notFoundPage(c: Context<DashboardEnv>, node: NodeInfo): Response | Promise<Response> {
  return c.html(
    <MessagePage nonce={nonceOf(c)} node={node} viewer={viewerOf(c)} title="Page not found">
      There is no dashboard page at {c.req.path.slice(0, 100)}.
    </MessagePage>,
    404,
  );
}

/** Errors as pages, not JSON: a refused cross-site form, a bad query, or a fault (logged with the request id). */
function errorPage(err: Error, c: Context<DashboardEnv>, node: NodeInfo): Response | Promise<Response> {
  const viewer = c.get('session') ? viewerOf(c) : undefined;
  const page = (title: string, text: string, status: 400 | 403 | 404 | 413 | 500) =>
    c.html(
      <MessagePage nonce={nonceOf(c)} node={node} viewer={viewer} title={title}>
        {text}
      </MessagePage>,
      status,
    );
  if (err instanceof HTTPException && err.status === 403) {
    return page('Form refused', 'This form was sent from another site. Open the dashboard directly and try again.', 403);
  }
  if (err instanceof AppError && (err.status === 400 || err.status === 403 || err.status === 404 || err.status === 413)) {
    return page(err.status === 404 ? 'Not found' : 'Request refused', `${err.message}.`, err.status);
  }
  c.get('log').error({ err }, 'dashboard request failed');
  return page('Something went wrong', `The page could not be built. The node logged the details under request id ${c.get('requestId')}.`, 500);
}
