/**
 * The page shell and the small pieces every page shares: the header with navigation and the
 * signed-in key, the inline stylesheet (under the response's CSP nonce), empty states, number
 * cells and times. Server-rendered HTML with no script: every action is a link or a form.
 */
import type { Child } from 'hono/jsx';
import { raw } from 'hono/html';
import type { Scope } from '../../service/api-keys.js';
import { formatCount, formatInstant } from './format.js';
import { CSRF_FIELD } from './security.js';
import { DASHBOARD_CSS } from './styles.js';

export type Section = 'health' | 'members' | 'listings';

export interface NodeInfo {
  member: string;
  role: 'member' | 'association';
  federation: string;
}

/** What the header shows of the signed-in session: the key's name and scope, never the key. */
export interface Viewer {
  keyName: string;
  scope: Scope;
  csrfToken: string;
}

export interface PageProps {
  title: string;
  nonce: string;
  node: NodeInfo;
  viewer?: Viewer | undefined;
  section?: Section | undefined;
  children?: Child;
}

const NAV: { section: Section; href: string; label: string }[] = [
  { section: 'health', href: '/dashboard', label: 'Federation health' },
  { section: 'members', href: '/dashboard/members', label: 'Member statistics' },
  { section: 'listings', href: '/dashboard/listings', label: 'Listing lookup' },
];

/** Whose data this node holds, for the header: the association sees everyone, a member itself and its peers. */
export function viewLabel(node: NodeInfo): string {
  return node.role === 'association' ? `Association view · node ${node.member}` : `Member view · node ${node.member}`;
}

export function Page(props: PageProps) {
  const { node, viewer } = props;
  return (
    <>
      {raw('<!doctype html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="referrer" content="no-referrer" />
          <title>{`${props.title} · jointban ${node.federation}`}</title>
          {/* An empty icon: otherwise the browser asks for /favicon.ico on every page. */}
          <link rel="icon" href="data:," />
          <style nonce={props.nonce}>{raw(DASHBOARD_CSS)}</style>
        </head>
        <body>
          <header class="top">
            <div class="bar">
              <a class="brand" href="/dashboard">
                <span>jointban · {node.federation}</span>
                <small>{viewLabel(node)}</small>
              </a>
              {viewer && (
                <nav aria-label="Dashboard">
                  {NAV.map((n) => (
                    <a href={n.href} aria-current={n.section === props.section ? 'page' : undefined}>
                      {n.label}
                    </a>
                  ))}
                </nav>
              )}
              {viewer && (
                <div class="who">
                  <span>
                    Key “{viewer.keyName}” ({viewer.scope})
                  </span>
                  <form method="post" action="/dashboard/logout">
                    <input type="hidden" name={CSRF_FIELD} value={viewer.csrfToken} />
                    <button type="submit">Sign out</button>
                  </form>
                </div>
              )}
            </div>
          </header>
          <main>{props.children}</main>
        </body>
      </html>
    </>
  );
}

/** What to show where there is nothing yet: what it means and what to do about it. */
export function Empty(props: { children?: Child }) {
  return <div class="empty">{props.children}</div>;
}

export function Num(props: { value: number | string }) {
  return <td class="num">{typeof props.value === 'number' ? formatCount(props.value) : props.value}</td>;
}

/** A time in the one format of the dashboard, machine-readable in `datetime`. */
export function When(props: { iso: string | null | undefined }) {
  const text = formatInstant(props.iso);
  return props.iso ? <time datetime={props.iso}>{text}</time> : text;
}

export function Card(props: { label: string; value: string | number; tone?: 'ok' | 'warn' | 'bad' | undefined }) {
  return (
    <div class="card">
      <div class="label">{props.label}</div>
      <div class={props.tone ? `value ${props.tone}` : 'value'}>{typeof props.value === 'number' ? formatCount(props.value) : props.value}</div>
    </div>
  );
}

/** A page that only says something went wrong and what to do next (404, 403, 500). */
export function MessagePage(props: { nonce: string; node: NodeInfo; viewer?: Viewer | undefined; title: string; children?: Child }) {
  return (
    <Page title={props.title} nonce={props.nonce} node={props.node} viewer={props.viewer}>
      <h1>{props.title}</h1>
      <div class="error">{props.children}</div>
      <p>
        <a href="/dashboard">Back to the dashboard</a>
      </p>
    </Page>
  );
}
