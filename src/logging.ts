/**
 * Structured JSON logs (pino). Nothing that could identify a person or unlock the node is ever
 * passed to the logger; as a second line of defence, fields that commonly carry secrets are
 * redacted wherever they appear.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

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
