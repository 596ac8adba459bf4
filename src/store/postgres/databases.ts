/**
 * Databases made and removed for a short-lived federation (`jointban demo --database-url`): one
 * per member, named `<the URL's database>_<member>`, created and dropped by the URL's role over one
 * connection to the URL's database. A role that may not create databases is one line saying so.
 */
import pg from 'pg';
import { AppError } from '../../errors.js';
import { describeConnectError } from './connection.js';
import { describeUrl } from './url.js';

/** PostgreSQL's identifier limit (NAMEDATALEN - 1): a longer name would be cut, not refused. */
const MAX_NAME_BYTES = 63;
const DEADLINE_MS = 10_000;

export interface ScratchDatabases {
  /** The URL of each member's database, with the given URL's role and password. */
  urls: Map<string, string>;
  /** Drops every database made, ending the sessions still open on it. */
  drop(): Promise<void>;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function onServer<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: DEADLINE_MS, statement_timeout: DEADLINE_MS, application_name: 'jointban' });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw describeConnectError(err, url);
  }
  // A server that goes away while the client sits between statements must not end the process.
  client.on('error', () => undefined);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates `<database>_<member>` for each member; on any refusal, drops those it made and throws one line. */
export async function createScratchDatabases(url: string, members: readonly string[]): Promise<ScratchDatabases> {
  const base = new URL(url);
  const prefix = decodeURIComponent(base.pathname.slice(1));
  const names = new Map(members.map((m) => [m, `${prefix}_${m}`.toLowerCase()]));
  for (const name of names.values()) {
    if (Buffer.byteLength(name) > MAX_NAME_BYTES)
      throw new AppError('invalid_input', `--database-url: the database name ${name} would be longer than PostgreSQL's ${MAX_NAME_BYTES} bytes: name a shorter database in the URL`);
  }
  const made: string[] = [];
  const drop = () =>
    onServer(url, async (client) => {
      for (const name of made.splice(0).reverse()) await client.query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`);
    });
  await onServer(url, async (client) => {
    for (const name of names.values()) {
      try {
        await client.query(`CREATE DATABASE ${quote(name)}`);
      } catch (err) {
        await drop().catch(() => undefined);
        const code = (err as { code?: unknown }).code;
        const where = describeUrl(url);
        if (code === '42501') throw new AppError('forbidden', `cannot create database ${name} at ${where}: the role may not create databases (ALTER ROLE … CREATEDB, or a role that may)`);
        if (code === '42P04') throw new AppError('conflict', `cannot create database ${name} at ${where}: it exists already (left by an earlier demo?): drop it first`);
        throw describeConnectError(err, url);
      }
      made.push(name);
    }
  });
  const urls = new Map<string, string>();
  for (const [member, name] of names) {
    const u = new URL(url);
    u.pathname = `/${encodeURIComponent(name)}`;
    urls.set(member, u.toString());
  }
  return { urls, drop };
}
