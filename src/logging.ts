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
