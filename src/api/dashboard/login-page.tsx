/**
 * The login page: one field for an admin or auditor API key. The key is posted once, checked,
 * and forgotten; the browser keeps only a random session id (see sessions.ts). The form carries a
 * double-submit token, since there is no session yet to hold one.
 */
import { Page, type NodeInfo } from './layout.js';
import { CSRF_FIELD } from './security.js';

export interface LoginPageProps {
  nonce: string;
  node: NodeInfo;
  csrfToken: string;
  message?: { tone: 'error' | 'notice'; text: string } | undefined;
  /** Plain HTTP to a host that is not loopback: the browser will drop the Secure session cookie. */
  insecureTransport: boolean;
}

export const LOGIN_MESSAGES = {
  'signed-out': 'You are signed out.',
  expired: 'Your session ended after a while without activity. Sign in again.',
  revoked: 'The API key of your session was revoked. Sign in with an active key.',
  required: 'Sign in to see the dashboard.',
} as const;

export type LoginReason = keyof typeof LOGIN_MESSAGES;

export function isLoginReason(value: string | undefined): value is LoginReason {
  return value !== undefined && Object.hasOwn(LOGIN_MESSAGES, value);
}

export function LoginPage(props: LoginPageProps) {
  return (
    <Page title="Sign in" nonce={props.nonce} node={props.node}>
      <div class="login">
        <h1>Sign in to the dashboard</h1>
        <p class="muted">
          Use an API key with the <strong>admin</strong> or <strong>auditor</strong> scope. Create one on the node with <code>jointban apikey create --scope auditor</code>.
        </p>
        {props.insecureTransport && (
          <p class="notice">
            This page was reached over plain HTTP. The browser will not keep the session cookie: serve the node behind a TLS-terminating proxy (see README), or open it on localhost.
          </p>
        )}
        {props.message && (
          <p class={props.message.tone} role={props.message.tone === 'error' ? 'alert' : 'status'}>
            {props.message.text}
          </p>
        )}
        <form method="post" action="/dashboard/login">
          <input type="hidden" name={CSRF_FIELD} value={props.csrfToken} />
          <label>
            API key
            <input type="password" name="key" autocomplete="off" spellcheck={false} placeholder="jb_…" required autofocus />
          </label>
          <button class="primary" type="submit">
            Sign in
          </button>
        </form>
      </div>
    </Page>
  );
}
