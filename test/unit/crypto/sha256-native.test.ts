/** `sha256Native` and `sha256NativeBinary` (node:crypto) must be the very function `sha256` (@noble/hashes) is. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../../src/crypto/encoding.js';
import { sha256, sha256Native, sha256NativeBinary } from '../../../src/crypto/index.js';

describe('sha256Native', () => {
  it('equals the noble SHA-256 on random inputs, across block boundaries', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (data) => {
        expect(toHex(sha256Native(data))).toBe(toHex(sha256(data)));
      }),
      { numRuns: 500 },
    );
    for (let n = 0; n <= 130; n++) expect(toHex(sha256Native(new Uint8Array(n).fill(n)))).toBe(toHex(sha256(new Uint8Array(n).fill(n))));
  });

  it('gives the FIPS 180-4 digests', () => {
    expect(toHex(sha256Native(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(toHex(sha256Native(utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('returns a plain 32-byte Uint8Array, not a Buffer', () => {
    const digest = sha256Native(utf8('x'));
    expect(digest).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(digest)).toBe(false);
    expect(digest.length).toBe(32);
  });
});

describe('sha256NativeBinary', () => {
  it('is the same digest as a binary string: 32 Latin-1 characters, one per byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (data) => {
        const text = sha256NativeBinary(data);
        expect(text).toHaveLength(32);
        expect(Buffer.from(text, 'latin1').toString('hex')).toBe(toHex(sha256(data)));
      }),
      { numRuns: 200 },
    );
  });
});
