/** Parsing the report window: accepted forms, normalisation to UTC, and every rejection. */
import { describe, expect, it } from 'vitest';
import { parseAuditWindow, windowDays } from '../../../src/audit/window.js';
import { AppError } from '../../../src/errors.js';

function rejects(from: string | undefined, to: string | undefined, message: RegExp): void {
  let caught: unknown;
  try {
    parseAuditWindow(from, to);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AppError);
  expect((caught as AppError).code).toBe('invalid_input');
  expect((caught as AppError).message).toMatch(message);
}

describe('accepted windows', () => {
  it('takes dates as midnight UTC', () => {
    expect(parseAuditWindow('2025-01-01', '2026-01-01')).toEqual({ from: '2025-01-01T00:00:00.000Z', to: '2026-01-01T00:00:00.000Z' });
  });

  it('normalises offsets and precision to toISOString form', () => {
    expect(parseAuditWindow('2025-01-01T00:00+08:00', '2025-01-02T08:30:15.123456Z')).toEqual({
      from: '2024-12-31T16:00:00.000Z',
      to: '2025-01-02T08:30:15.123Z',
    });
  });

  it('allows a leap year (366 days) in any offset', () => {
    expect(parseAuditWindow('2024-01-01T00:00:00+08:00', '2025-01-01T00:00:00+08:00').to).toBe('2024-12-31T16:00:00.000Z');
  });
});

describe('rejected windows', () => {
  it.each([
    [undefined, '2025-01-01', /^from: required/],
    ['2025-01-01', '', /^to: required/],
    ['2025-01-01T00:00:00', '2025-02-01', /^from: must be an ISO-8601/],
    ['yesterday', '2025-02-01', /^from: must be/],
    ['2025-02-30', '2025-03-31', /^from: not a real date/],
    ['2025-01-01', '2025-02-29T00:00:00Z', /^to: not a real date-time/],
    ['2025-01-01T24:00:00Z', '2025-02-01', /^from: not a real date-time/],
    ['2025-01-01', '2025-01-01', /^to: must be after from/],
    ['2025-02-01', '2025-01-01', /^to: must be after from/],
    ['2024-01-01', '2025-01-02', /longer than 366 days/],
  ])('from=%s to=%s', (from, to, message) => {
    rejects(from, to, message);
  });

  it('names the bounds as the caller asks', () => {
    expect(() => parseAuditWindow('2025-02-01', '2025-01-01', { from: '--from', to: '--to' })).toThrow(/^--to: must be after --from$/);
  });
});

describe('windowDays', () => {
  it('gives the first and last UTC day the window overlaps (end exclusive)', () => {
    expect(windowDays({ from: '2025-01-01T00:00:00.000Z', to: '2026-01-01T00:00:00.000Z' })).toEqual({ first: '2025-01-01', last: '2025-12-31' });
    expect(windowDays({ from: '2025-01-01T12:00:00.000Z', to: '2025-01-03T00:00:00.001Z' })).toEqual({ first: '2025-01-01', last: '2025-01-03' });
  });
});
