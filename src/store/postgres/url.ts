/**
 * A PostgreSQL URL as the node may show it: in logs, errors, `jointban status`. Never the password.
 */

/** `user@host:port/database`, or `the configured URL` when it does not parse. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const socket = parsed.searchParams.get('host');
    const host = parsed.host !== '' ? parsed.host : socket !== null ? socket : 'localhost';
    const user = parsed.username !== '' ? `${decodeURIComponent(parsed.username)}@` : '';
    return `${user}${host}${parsed.pathname}`;
  } catch {
    return 'the configured URL';
  }
}
