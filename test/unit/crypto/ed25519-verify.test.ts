/**
 * `ed25519Verify` takes OpenSSL's (node:crypto) word for a valid signature and asks noble otherwise
 * (src/crypto/index.ts). Its accepted set must be exactly noble's strict one (zip215: false): on the
 * published and constructed edge cases of test/vectors/ed25519-edge-cases.json, where OpenSSL's
 * own verdict differs from noble's on some, and on random valid and damaged signatures.
 *
 * The reference is @noble/ed25519 itself, imported here directly: it is what src/crypto wraps.
 */
import { readFileSync } from 'node:fs';
import { createPublicKey, verify as opensslVerify } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ed25519PublicKey, ed25519SlowVerifications, ed25519Sign, ed25519Verify, ed25519VerifyOpenSsl } from '../../../src/crypto/index.js';

ed.hashes.sha512 = sha512;

interface EdgeCase {
  comment: string;
  valid: boolean;
  tags: string[];
  publicKey: string;
  message: string;
  signature: string;
}

const file = JSON.parse(readFileSync(new URL('../../vectors/ed25519-edge-cases.json', import.meta.url), 'utf8')) as { cases: EdgeCase[] };
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function nobleStrict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** OpenSSL's own verdict, undefined when it will not even import the key. */
function openssl(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean | undefined {
  try {
    const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]), format: 'der', type: 'spki' });
    return opensslVerify(null, message, key, signature);
  } catch {
    return undefined;
  }
}

describe('ed25519Verify on the edge-case vectors', () => {
  it('gives the recorded noble-strict verdict on every case', () => {
    expect(file.cases.length).toBeGreaterThan(100);
    for (const c of file.cases) {
      const [pk, msg, sig] = [bytes(c.publicKey), bytes(c.message), bytes(c.signature)];
      expect({ comment: c.comment, valid: nobleStrict(pk, msg, sig) }).toEqual({ comment: c.comment, valid: c.valid });
      expect({ comment: c.comment, valid: ed25519Verify(pk, msg, sig) }).toEqual({ comment: c.comment, valid: c.valid });
    }
  });

  it('includes cases where OpenSSL alone would decide differently', () => {
    const differ = file.cases.filter((c) => openssl(bytes(c.publicKey), bytes(c.message), bytes(c.signature)) !== c.valid);
    // The vectors exercise the paths that make the pre-checks and the fallback necessary.
    expect(differ.map((c) => c.tags[0])).toEqual(expect.arrayContaining(['mixed_order_R']));
    expect(differ.length).toBeGreaterThan(5);
  });
});

describe('ed25519Verify against noble-strict on random signatures', () => {
  const seed = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const message = fc.uint8Array({ maxLength: 200 });
  const T8 = ed.Point.fromBytes(bytes('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'));
  const le32 = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
  const scalarOf = (b: Uint8Array) => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);

  /** Ways a signature, key or message can be damaged or crafted. */
  const damage = fc.oneof(
    fc.record({ kind: fc.constant('none' as const) }),
    fc.record({ kind: fc.constant('flip-signature' as const), bit: fc.nat(511) }),
    fc.record({ kind: fc.constant('flip-key' as const), bit: fc.nat(255) }),
    fc.record({ kind: fc.constant('flip-message' as const), bit: fc.nat(1599) }),
    fc.record({ kind: fc.constant('s-plus-l' as const) }),
    fc.record({ kind: fc.constant('torsion-r' as const), k: fc.integer({ min: 1, max: 7 }) }),
    fc.record({ kind: fc.constant('torsion-key' as const), k: fc.integer({ min: 1, max: 7 }) }),
    // Signed afresh with R = rB + k·T8: only the cofactored equation holds, OpenSSL refuses it.
    fc.record({ kind: fc.constant('mixed-order-r' as const), k: fc.integer({ min: 1, max: 7 }), r: fc.bigInt({ min: 1n, max: L - 1n }) }),
    fc.record({ kind: fc.constant('small-order-key' as const), k: fc.integer({ min: 0, max: 7 }) }),
  );

  it('both accept or both reject, valid or damaged', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(seed, message, damage, (secret, msg, d) => {
        let pk = ed25519PublicKey(secret);
        let sig = ed25519Sign(secret, msg);
        let m = msg;
        switch (d.kind) {
          case 'flip-signature':
            sig = Uint8Array.from(sig);
            sig[d.bit >> 3]! ^= 1 << (d.bit & 7);
            break;
          case 'flip-key':
            pk = Uint8Array.from(pk);
            pk[d.bit >> 3]! ^= 1 << (d.bit & 7);
            break;
          case 'flip-message':
            m = Uint8Array.from(msg.length > 0 ? msg : [0]);
            m[(d.bit >> 3) % m.length]! ^= 1 << (d.bit & 7);
            break;
          case 's-plus-l': {
            const s = scalarOf(sig.subarray(32)) + L;
            if (s < 2n ** 256n) sig = Uint8Array.from([...sig.subarray(0, 32), ...le32(s)]);
            break;
          }
          case 'torsion-r':
            sig = Uint8Array.from([
              ...ed.Point.fromBytes(sig.subarray(0, 32))
                .add(T8.multiply(BigInt(d.k), false))
                .toBytes(),
              ...sig.subarray(32),
            ]);
            break;
          case 'torsion-key':
            pk = ed.Point.fromBytes(pk)
              .add(T8.multiply(BigInt(d.k), false))
              .toBytes();
            break;
          case 'mixed-order-r': {
            const { scalar } = ed.utils.getExtendedPublicKey(secret);
            const R = ed.Point.BASE.multiply(d.r)
              .add(T8.multiply(BigInt(d.k), false))
              .toBytes();
            const k = scalarOf(sha512(new Uint8Array([...R, ...pk, ...m]))) % L;
            sig = Uint8Array.from([...R, ...le32((d.r + k * scalar) % L)]);
            break;
          }
          case 'small-order-key':
            pk = d.k === 0 ? ed.Point.ZERO.toBytes() : T8.multiply(BigInt(d.k), false).toBytes();
            break;
        }
        const expected = nobleStrict(pk, m, sig);
        expect(ed25519Verify(pk, m, sig)).toBe(expected);
        if (expected) accepted++;
        else rejected++;
      }),
      { numRuns: 300 },
    );
    expect(accepted).toBeGreaterThan(10);
    expect(rejected).toBeGreaterThan(10);
  });

  it('rejects wrong lengths without throwing', () => {
    const secret = new Uint8Array(32).fill(7);
    const sig = ed25519Sign(secret, new Uint8Array([1]));
    expect(ed25519Verify(ed25519PublicKey(secret), new Uint8Array([1]), sig)).toBe(true);
    expect(ed25519Verify(ed25519PublicKey(secret).subarray(1), new Uint8Array([1]), sig)).toBe(false);
    expect(ed25519Verify(ed25519PublicKey(secret), new Uint8Array([1]), sig.subarray(1))).toBe(false);
  });
});

describe('ed25519VerifyOpenSsl (peer request signatures): OpenSSL only, never the slow verifier', () => {
  it('accepts exactly the cases noble-strict and OpenSSL both accept, without one slow verification', () => {
    const before = ed25519SlowVerifications();
    let refusedValid = 0;
    for (const c of file.cases) {
      const [pk, msg, sig] = [bytes(c.publicKey), bytes(c.message), bytes(c.signature)];
      const expected = c.valid && openssl(pk, msg, sig) === true;
      if (c.valid && !expected) refusedValid++;
      expect({ comment: c.comment, valid: ed25519VerifyOpenSsl(pk, msg, sig) }).toEqual({ comment: c.comment, valid: expected });
    }
    expect(ed25519SlowVerifications()).toBe(before);
    // The crafted mixed-order signatures noble-strict accepts are what it gives up.
    expect(refusedValid).toBeGreaterThan(0);
  });

  it('accepts every signature an RFC 8032 signer makes, and a damaged one costs no slow verification', () => {
    const before = ed25519SlowVerifications();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), fc.nat(511), (secret, msg, bit) => {
        const pk = ed25519PublicKey(secret);
        const sig = ed25519Sign(secret, msg);
        expect(ed25519VerifyOpenSsl(pk, msg, sig)).toBe(true);
        const bad = Uint8Array.from(sig);
        bad[bit >> 3]! ^= 1 << (bit & 7);
        expect(ed25519VerifyOpenSsl(pk, msg, bad)).toBe(false);
      }),
      { numRuns: 100 },
    );
    expect(ed25519SlowVerifications()).toBe(before);
  });

  it('the counter counts: ed25519Verify asks the slow verifier about a damaged signature', () => {
    const secret = new Uint8Array(32).fill(9);
    const sig = ed25519Sign(secret, new Uint8Array([1]));
    sig[0]! ^= 1;
    const before = ed25519SlowVerifications();
    expect(ed25519Verify(ed25519PublicKey(secret), new Uint8Array([1]), sig)).toBe(false);
    expect(ed25519SlowVerifications()).toBe(before + 1);
  });
});
