/**
 * The backup manifest's signature (src/store/backup-signature.ts): it verifies with the key that
 * made it and names it, and any changed field, an added field, another key or a damaged signature
 * makes it fail, without throwing.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/crypto/encoding.js';
import { generateEd25519KeyPair } from '../../../src/crypto/index.js';
import { manifestSigner, signManifest } from '../../../src/store/backup-signature.js';

const key = generateEd25519KeyPair();
const other = generateEd25519KeyPair();
const manifest = {
  format: 'jointban-backup',
  version: 2,
  createdAt: '2026-12-07T12:00:00.000Z',
  member: 'alpha',
  database: { bytes: 4096, sha256: 'a'.repeat(64) },
  logs: [{ origin: 'alpha', size: 3, checkpoint: 3 }],
};

describe('a signed backup manifest', () => {
  it('verifies with the key that signed it, whatever the order of its fields', () => {
    const signed = signManifest(manifest, key);
    expect(signed.signature.publicKey).toBe(toHex(key.publicKey));
    expect(manifestSigner(signed, [other.publicKey, key.publicKey])).toEqual(key.publicKey);
    const { logs, ...rest } = manifest;
    const reordered = { signature: signed.signature, logs, ...rest };
    expect(manifestSigner(reordered, [key.publicKey])).toEqual(key.publicKey);
  });

  it.each([
    ['a changed hash', (m: Record<string, unknown>) => ({ ...m, database: { bytes: 4096, sha256: 'b'.repeat(64) } })],
    ['a changed log size', (m: Record<string, unknown>) => ({ ...m, logs: [{ origin: 'alpha', size: 4, checkpoint: 3 }] })],
    ['an added field', (m: Record<string, unknown>) => ({ ...m, extra: true })],
    ['a damaged signature', (m: Record<string, unknown>) => ({ ...m, signature: { ...(m['signature'] as object), ed25519: 'AAAA' } })],
    ['no signature', (m: Record<string, unknown>) => ({ ...m, signature: undefined })],
  ])('fails with %s', (_name, change) => {
    const signed = signManifest(manifest, key) as unknown as Record<string, unknown>;
    expect(manifestSigner(change(signed) as never, [key.publicKey])).toBeUndefined();
  });

  it('fails with a key it does not name among those given', () => {
    expect(manifestSigner(signManifest(manifest, key), [other.publicKey])).toBeUndefined();
  });
});
