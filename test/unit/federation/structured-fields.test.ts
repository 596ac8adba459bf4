import { describe, expect, it } from 'vitest';
import { parseDictionary, serializeDictionary } from '../../../src/federation/structured-fields.js';

function roundTrip(text: string): string {
  const parsed = parseDictionary(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return serializeDictionary(parsed.value);
}

describe('RFC 8941 dictionaries: accepted', () => {
  it.each([
    ['a=1, b=-2, c=3.5, d=?0, e=tok/en:x, f="s\\"q", g=:AQID:', 'a=1, b=-2, c=3.5, d=?0, e=tok/en:x, f="s\\"q", g=:AQID:'],
    ['a, b;x=1;y', 'a, b;x=1;y'],
    ['  a=1 ,\tb=2  ', 'a=1, b=2'],
    ['a=(  1   2 );p=*t', 'a=(1 2);p=*t'],
    ['a=()', 'a=()'],
    ['a=999999999999999', 'a=999999999999999'],
    ['a=123456789012.123', 'a=123456789012.123'],
    ['a=1.50', 'a=1.5'],
    ['', ''],
  ])('%s', (text, serialized) => {
    expect(roundTrip(text)).toBe(serialized);
  });
});

describe('RFC 8941 dictionaries: rejected', () => {
  it.each([
    ['A=1', 'upper-case key'],
    ['a=1,', 'trailing comma'],
    ['a=1 b=2', 'missing comma'],
    ['a=1000000000000000', 'integer of 16 digits'],
    ['a=1234567890123.1', 'decimal with 13 integer digits'],
    ['a=1.1234', 'decimal with 4 fraction digits'],
    ['a=1.', 'decimal ending in "."'],
    ['a=-.5', 'sign without a digit'],
    ['a=?2', 'bad boolean'],
    ['a="unterminated', 'unterminated string'],
    ['a="\\n"', 'bad escape'],
    ['a=:AQI:', 'unpadded base64'],
    ['a=:AQID', 'unterminated byte sequence'],
    ['a=1, a=2', 'duplicate key'],
    ['a=1;p;p', 'duplicate parameter'],
    ['a=(1 2', 'unterminated inner list'],
    ['a=(1,2)', 'comma inside an inner list'],
    ['a=é', 'non-ASCII'],
  ])('%s (%s)', (text) => {
    expect(parseDictionary(text).ok).toBe(false);
  });
});
