/** `keyedHmacSha256Native` (node:crypto) must be the very function `keyedHmacSha256` (@noble/hashes) is. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../../src/crypto/encoding.js';
import { hmacSha256, keyedHmacSha256, keyedHmacSha256Native } from '../../../src/crypto/index.js';

describe('keyedHmacSha256Native', () => {
  it('equals the noble HMAC-SHA256 on random keys and messages, the same key reused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 5 }), (key, messages) => {
        const native = keyedHmacSha256Native(key);
        const noble = keyedHmacSha256(key);
        for (const m of messages) {
          expect(toHex(native(m))).toBe(toHex(noble(m)));
          expect(toHex(native(m))).toBe(toHex(hmacSha256(key, m)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives the RFC 4231 test case 2 digest', () => {
    expect(toHex(keyedHmacSha256Native(utf8('Jefe'))(utf8('what do ya want for nothing?')))).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});
