/**
 * The plain-ASCII-domain fast path of normaliseEmail (src/identifiers/email.ts) must give exactly
 * what domainToASCII gives: every domain it takes must come back from the slow path unchanged, on
 * generated domains built to hit its edges (A-labels, numeric and hex last labels, hyphens).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asciiDomainSlow, isPlainAsciiDomain, normaliseEmail } from '../../../src/identifiers/email.js';

const label = fc.oneof(
  fc.stringMatching(/^[a-z0-9-]{1,8}$/),
  fc.stringMatching(/^xn--[a-z0-9-]{0,8}$/),
  fc.stringMatching(/^0x[0-9a-f]{0,4}$/),
  fc.stringMatching(/^[0-9]{1,4}$/),
  fc.constantFrom('com', 'cn', 'qq', 'ab--cd', 'xn--p1ai', 'xn--fiqs8s', '0xg', '0x', 'a'.repeat(63), 'a'.repeat(64)),
);
const domain = fc.array(label, { minLength: 1, maxLength: 5 }).map((labels) => labels.join('.'));

describe('the plain ASCII domain fast path agrees with domainToASCII', () => {
  it('takes only domains the slow path returns unchanged', () => {
    fc.assert(
      fc.property(domain, (d) => {
        if (isPlainAsciiDomain(d)) expect(asciiDomainSlow(d)).toBe(d);
      }),
      { numRuns: 20_000 },
    );
  });

  it('leaves A-labels, IPv4-like hosts and malformed labels to the slow path', () => {
    for (const d of ['xn--fiqs8s.cn', 'example.xn--p1ai', 'a.0x1f', 'a.0x', 'a.123', '1.2.3.4', '-a.com', 'a-.com', 'a..com', 'com', 'a.com.', `${'a'.repeat(64)}.com`, 'A.com']) {
      expect(isPlainAsciiDomain(d), d).toBe(false);
    }
    for (const d of ['a.0x1f', 'a.0x', 'a.123', '1.2.3.4']) expect(asciiDomainSlow(d), d).toBeUndefined();
  });

  it('takes the common domains', () => {
    for (const d of ['qq.com', '163.com', 'gmail.com', 'mail.example.com.cn', 'ab--cd.com', 'foo.0xg', 'x1.io']) {
      expect(isPlainAsciiDomain(d), d).toBe(true);
      expect(asciiDomainSlow(d), d).toBe(d);
    }
    expect(normaliseEmail(' Alice.Example@Example.COM ')).toEqual({ ok: true, value: 'alice.example@example.com' });
  });
});
