/**
 * The access log is written without pino's redaction paths (src/logging.ts, `accessLogWriter`):
 * these tests hold it to its fixed fields, and every other line to the redaction.
 */
import { describe, expect, it } from 'vitest';
import { accessLogWriter, createLogger, type AccessLine } from '../../src/logging.js';

function capture(): { lines: () => Record<string, unknown>[]; raw: () => string; stream: { write(s: string): void } } {
  const out: string[] = [];
  return {
    stream: { write: (s: string) => void out.push(s) },
    raw: () => out.join(''),
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const line: AccessLine = { requestId: 'req-1', method: 'POST', route: '/v1/check', status: 200, ms: 1.5, keyId: 'key-id-1' };

describe('the access line', () => {
  it('carries exactly its fixed fields', () => {
    const sink = capture();
    accessLogWriter(createLogger('info', sink.stream))(line);
    const [written] = sink.lines();
    const { level, time, service, msg, ...fields } = written!;
    expect({ level, service, msg }).toEqual({ level: 30, service: 'jointban', msg: 'request' });
    expect(typeof time).toBe('string');
    expect(fields).toEqual(line);
  });

  it('copies only the known fields, whatever else the object holds', () => {
    const sink = capture();
    const smuggled = { ...line, value: '+8613800138000', authorization: 'Bearer jb_secret', headers: { authorization: 'Bearer jb_secret' } };
    accessLogWriter(createLogger('info', sink.stream))(smuggled as AccessLine);
    expect(sink.lines()).toHaveLength(1);
    expect(sink.raw()).not.toContain('13800138000');
    expect(sink.raw()).not.toContain('jb_secret');
  });

  it('is not written below the info level', () => {
    const sink = capture();
    accessLogWriter(createLogger('warn', sink.stream))(line);
    expect(sink.raw()).toBe('');
  });
});

describe('every other line', () => {
  it('keeps the redaction, also on the logger the access writer was made from', () => {
    const sink = capture();
    const logger = createLogger('info', sink.stream);
    accessLogWriter(logger)(line);
    logger.child({ requestId: 'req-2' }).info({ value: '+8613800138000', key: 'jb_secret', headers: { authorization: 'Bearer jb_secret' }, item: { secret: 's3cret' } }, 'other');
    const other = sink.lines().find((l) => l.msg === 'other')!;
    expect(other).toMatchObject({ requestId: 'req-2', value: '[redacted]', key: '[redacted]', headers: { authorization: '[redacted]' }, item: { secret: '[redacted]' } });
    expect(sink.raw()).not.toContain('13800138000');
    expect(sink.raw()).not.toContain('jb_secret');
    expect(sink.raw()).not.toContain('s3cret');
  });
});
