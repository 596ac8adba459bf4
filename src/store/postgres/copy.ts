/**
 * COPY … FROM STDIN on the connection of a Kysely transaction (pg-copy-streams), in PostgreSQL's
 * text format: one line per row, columns separated by tabs, `\N` for NULL, backslash escapes for
 * the characters the format reserves, bytea as `\\x` + hex. Used by the bulk-append adapter
 * (bulk-append.ts); the rows are part of the transaction that holds the connection, so they commit
 * or roll back with it.
 *
 * Every COPY has a deadline on this side too: statement_timeout (database.statementTimeoutMs) lets
 * the server cancel a slow COPY, but a server that vanished without closing the socket answers
 * nothing, and a COPY would wait for it forever. At the deadline the socket is destroyed, which
 * fails the COPY and every statement queued behind it (the transaction's rollback); the connection
 * is marked broken so the pool drops it.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DatabaseConnection } from 'kysely';
import copyStreams from 'pg-copy-streams';
import { AppError } from '../../errors.js';
import { classifyPostgresError, PostgresConnection } from './connection.js';

export const NULL = '\\N';

const RESERVED = /[\\\t\n\r]/;
const RESERVED_ALL = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A text value as a COPY field. */
export function text(value: string): string {
  return RESERVED.test(value) ? value.replace(RESERVED_ALL, (c) => ESCAPES[c]!) : value;
}

/** A nullable text value as a COPY field. */
export function nullable(value: string | null | undefined): string {
  return value === null || value === undefined ? NULL : text(value);
}

// The bytea input `\x0a0b…`, its backslash escaped for the COPY text format.
const BYTEA_PREFIX = '\\\\x';

/** Bytes as a COPY field of a bytea column. */
export function bytea(bytes: Uint8Array): string {
  return BYTEA_PREFIX + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const EVEN_HEX = /^(?:[0-9a-f]{2})*$/;

/** Hex text (a token as entries carry it) as a bytea field: the same bytes `Buffer.from(hex, 'hex')` gives. */
export function byteaOfHex(hex: string): string {
  return BYTEA_PREFIX + (EVEN_HEX.test(hex) ? hex : Buffer.from(hex, 'hex').toString('hex'));
}

// Lines go to the socket in chunks of about this many characters: few enough writes to keep the
// per-write cost small, small enough to keep memory flat.
const CHUNK_CHARS = 256 * 1024;

function* chunks(lines: Iterable<string>): Generator<string> {
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

export interface CopyInto {
  table: string;
  columns: readonly string[];
  /** Each row one line, fields joined by tabs, ending in a newline. */
  lines: Iterable<string>;
  /** Milliseconds before this side gives up on the server. */
  deadlineMs: number;
}

/** Runs one COPY FROM STDIN on `connection` (of the node's PostgreSQL driver); the rows it wrote. */
export async function copyInto(connection: DatabaseConnection, copy: CopyInto): Promise<number> {
  if (!(connection instanceof PostgresConnection)) throw new Error('not a connection of the PostgreSQL driver');
  const { client } = connection;
  const stream = client.query(copyStreams.from(`COPY ${copy.table} (${copy.columns.join(', ')}) FROM STDIN`));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      connection.broken = true;
      client.connection.stream.destroy();
      reject(new AppError('unavailable', `database unavailable: COPY into ${copy.table} got no answer from the server within ${copy.deadlineMs} ms`));
    }, copy.deadlineMs);
  });
  try {
    await Promise.race([pipeline(Readable.from(chunks(copy.lines)), stream), deadline]);
    return stream.rowCount;
  } catch (err) {
    const classified = classifyPostgresError(err);
    if (classified !== err) connection.broken = true;
    throw classified;
  } finally {
    clearTimeout(timer);
  }
}
