/**
 * The witness key rotates with the association's member key (docs/PROTOCOL.md, "Key history"): a
 * cosignature counts when a key of the association made it within that key's period, judged by the
 * cosignature's own timestamp.
 */
import { describe, expect, it } from 'vitest';
import { toBase64 } from '../../../src/crypto/encoding.js';
import { generateEd25519KeyPair } from '../../../src/crypto/index.js';
import { cosign, isCosigned, witnessOf } from '../../../src/roster/witness.js';
import { logOrigin, signCheckpoint } from '../../../src/log/checkpoint.js';
import type { Roster } from '../../../src/roster/index.js';

const FEDERATION = 'jointban.example';
const oldKey = generateEd25519KeyPair();
const newKey = generateEd25519KeyPair();
const member = generateEd25519KeyPair();
const JOINED = '2025-01-01T00:00:00.000Z';
const ROTATED = '2025-06-01T00:00:00.000Z';
const RETIRED = '2025-06-08T00:00:00.000Z';

const roster: Roster = {
  federation: FEDERATION,
  version: 2,
  issuedAt: ROTATED,
  members: [
    {
      id: 'alpha',
      name: 'Alpha',
      role: 'member',
      publicKey: toBase64(member.publicKey),
      endpoint: 'https://alpha.example',
      status: 'active',
      since: JOINED,
    },
    {
      id: 'assoc',
      name: 'Association',
      role: 'association',
      publicKey: toBase64(newKey.publicKey),
      keyValidFrom: ROTATED,
      previousKeys: [{ publicKey: toBase64(oldKey.publicKey), validFrom: JOINED, validUntil: RETIRED }],
      endpoint: 'https://assoc.example',
      status: 'active',
      since: JOINED,
    },
  ],
};

const origin = logOrigin(FEDERATION, 'alpha');
const note = signCheckpoint({ origin, size: 1, root: new Uint8Array(32).fill(1) }, { name: origin, secretKey: member.secretKey });
const witness = witnessOf(roster)!;

describe('witness cosignatures under the association key history', () => {
  it('lists both association keys under the witness name', () => {
    expect(witness.name).toBe(`${FEDERATION}/witness`);
    expect(witness.keys.map((k) => toBase64(k.publicKey))).toEqual([toBase64(oldKey.publicKey), toBase64(newKey.publicKey)]);
  });

  it('counts the old key before its validUntil and the new key from its keyValidFrom', () => {
    expect(isCosigned(cosign(note, FEDERATION, oldKey.secretKey, new Date('2025-06-07T00:00:00Z')), witness)).toBe(true);
    expect(isCosigned(cosign(note, FEDERATION, newKey.secretKey, new Date('2025-06-02T00:00:00Z')), witness)).toBe(true);
  });

  it('refuses the old key after its validUntil and the new key before its keyValidFrom', () => {
    expect(isCosigned(cosign(note, FEDERATION, oldKey.secretKey, new Date('2025-06-09T00:00:00Z')), witness)).toBe(false);
    expect(isCosigned(cosign(note, FEDERATION, newKey.secretKey, new Date('2025-05-01T00:00:00Z')), witness)).toBe(false);
  });

  it('refuses a key that was never the association’s', () => {
    expect(isCosigned(cosign(note, FEDERATION, member.secretKey, new Date('2025-06-02T00:00:00Z')), witness)).toBe(false);
  });
});
