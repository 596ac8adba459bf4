/**
 * Structured JSON logs (pino). Nothing that could identify a person or unlock the node is ever
 * passed to the logger; as a second line of defence, fields that commonly carry secrets are
 * redacted wherever they appear.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * Where a running node writes its logs: stdout (the default, for journald) or a file, written
 * asynchronously. pino's default destination writes each line with its own synchronous write(2):
 * one system call per request for the access log, a visible share of a check's CPU. Asynchronous,
 * lines written while a write is in flight are coalesced into the next one; nothing is held back
 * when idle (minLength 0), and pino flushes what is pending when the process exits. Only a kill -9
 * can lose the lines of the write in flight.
 */
export function nodeLogDestination(dest: number | string = 1): DestinationStream {
  return pino.destination({ dest, sync: false, minLength: 0 });
}

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'jointban' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['authorization', '*.authorization', 'headers.authorization', 'secret', '*.secret', 'apiKey', '*.apiKey', 'key', 'value', '*.value'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** The fields of an access line, and the only ones it can carry: none holds a secret or an identifier. */
export interface AccessLine {
  /** The `x-request-id` the client sent (if it matched a strict pattern) or one made up by the node. */
  requestId: string;
  method: string;
  /** The route's pattern (`/v1/listings/:id`), never the path with its values or query string. */
  route: string;
  status: number;
  ms: number;
  /** The API key's public id, never its secret. */
  keyId: string | undefined;
}

/**
 * The writer of the access log: one line per request through a child of `logger` without the
 * redaction paths. pino runs every field of a line through its wildcard redaction ('*.value' and
 * the like), which was half of the access log's cost per request (~4.6 µs of ~9). Nothing is lost:
 * the line is built here from the closed set of primitive fields of `AccessLine`, none of which can
 * hold an object for a redaction path to match, and every other line still goes through `logger`
 * and its redaction.
 */
export function accessLogWriter(logger: Logger): (line: AccessLine) => void {
  const access = logger.child({}, { redact: { paths: [] } });
  return (line) => {
    if (!access.isLevelEnabled('info')) return;
    access.info({ requestId: line.requestId, method: line.method, route: line.route, status: line.status, ms: line.ms, keyId: line.keyId }, 'request');
  };
}
