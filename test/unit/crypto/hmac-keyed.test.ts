/**
 * `keyedHmacSha256` (@noble/hashes, one scratch state reused across messages) must be the very
 * function OpenSSL's HMAC-SHA256 (node:crypto) is, whatever the messages before it were.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../../src/crypto/encoding.js';
import { hmacSha256, keyedHmacSha256 } from '../../../src/crypto/index.js';

const openssl = (key: Uint8Array, message: Uint8Array): string => createHmac('sha256', key).update(message).digest('hex');

describe('keyedHmacSha256', () => {
  it('equals node:crypto and the one-shot noble HMAC-SHA256 on random keys and messages, the same key reused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 5 }), (key, messages) => {
        const keyed = keyedHmacSha256(key);
        for (const m of messages) {
          const mac = toHex(keyed(m));
          expect(mac).toBe(openssl(key, m));
          expect(mac).toBe(toHex(hmacSha256(key, m)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('returns a fresh array per message: an earlier result is not overwritten by the next', () => {
    const keyed = keyedHmacSha256(utf8('key'));
    const first = keyed(utf8('one'));
    const copy = toHex(first);
    keyed(utf8('two'));
    expect(toHex(first)).toBe(copy);
  });

  it('gives the RFC 4231 test case 2 digest', () => {
    expect(toHex(keyedHmacSha256(utf8('Jefe'))(utf8('what do ya want for nothing?')))).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});
