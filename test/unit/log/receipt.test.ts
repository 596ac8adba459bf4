import { describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../../src/crypto/index.js';
import { fromBase64, toBase64 } from '../../../src/crypto/encoding.js';
import { logOrigin, signCheckpoint } from '../../../src/log/checkpoint.js';
import { encodeEntry, type ListingEntry } from '../../../src/log/entry.js';
import { inclusionProof, leafHash, rootFromLeafHashes } from '../../../src/log/merkle.js';
import { buildReceipt, verifyReceipt, type Receipt } from '../../../src/log/receipt.js';

const FEDERATION = 'test.jointban.example';
const alpha = generateEd25519KeyPair();
const other = generateEd25519KeyPair();

function entry(seq: number): ListingEntry {
  return {
    v: 1,
    kind: 'listing',
    origin: 'alpha',
    seq,
    time: '2026-11-01T00:00:00.000Z',
    category: 'fraud',
    severity: 'severe',
    bannedAt: '2026-10-01T00:00:00.000Z',
    banUntil: null,
    expiresAt: '2029-10-01T00:00:00.000Z',
    tokens: [{ type: 'phone', epoch: 1, token: seq.toString(16).padStart(32, '0') }],
  };
}

function makeReceipt(index: number, size = 7): Receipt {
  const leaves = Array.from({ length: size }, (_, i) => encodeEntry(entry(i + 1)));
  const hashes = leaves.map(leafHash);
  const origin = logOrigin(FEDERATION, 'alpha');
  const note = signCheckpoint({ origin, size, root: rootFromLeafHashes(hashes) }, { name: origin, secretKey: alpha.secretKey });
  return buildReceipt({ federation: FEDERATION, origin: 'alpha', leafIndex: index, treeSize: size, entry: leaves[index]!, proof: inclusionProof(hashes, index), checkpoint: note });
}

const keys = (member: string) => (member === 'alpha' ? alpha.publicKey : undefined);

describe('a valid receipt', () => {
  it.each([0, 3, 6])('verifies for leaf %i and returns the entry', (index) => {
    const result = verifyReceipt(makeReceipt(index), keys);
    expect(result).toMatchObject({ ok: true, entry: { origin: 'alpha', seq: index + 1 } });
  });
});

describe('a tampered receipt', () => {
  it('fails when the entry bytes change', () => {
    const r = makeReceipt(2);
    const bytes = fromBase64(r.entry)!;
    const tampered = encodeEntry({ ...entry(3), category: 'rumor' });
    expect(bytes).not.toEqual(tampered);
    expect(verifyReceipt({ ...r, entry: toBase64(tampered) }, keys)).toMatchObject({ ok: false, error: expect.stringContaining('inclusion proof') });
  });

  it('fails when a proof hash changes', () => {
    const r = makeReceipt(2);
    const proof = [...r.inclusionProof];
    const h = fromBase64(proof[0]!)!;
    h[0] = h[0]! ^ 1;
    proof[0] = toBase64(h);
    expect(verifyReceipt({ ...r, inclusionProof: proof }, keys).ok).toBe(false);
  });

  it('fails when the leaf index is moved', () => {
    const r = makeReceipt(2);
    expect(verifyReceipt({ ...r, leafIndex: 3, listingId: 'alpha:4' }, keys).ok).toBe(false);
  });

  it('fails when the listing id does not name the entry', () => {
    expect(verifyReceipt({ ...makeReceipt(2), listingId: 'alpha:9' }, keys)).toMatchObject({ ok: false, error: expect.stringContaining('listingId') });
  });

  it('fails when the checkpoint was signed by another key', () => {
    const r = makeReceipt(1);
    const origin = logOrigin(FEDERATION, 'alpha');
    const body = r.checkpoint.slice(0, r.checkpoint.indexOf('\n\n') + 1);
    const [, size, root] = body.split('\n');
    const forged = signCheckpoint({ origin, size: Number(size), root: fromBase64(root!)! }, { name: origin, secretKey: other.secretKey });
    expect(verifyReceipt({ ...r, checkpoint: forged }, keys)).toMatchObject({ ok: false, error: expect.stringContaining('checkpoint') });
  });

  it('fails when treeSize differs from the checkpoint', () => {
    expect(verifyReceipt({ ...makeReceipt(1), treeSize: 8 }, keys).ok).toBe(false);
  });

  it('fails for an origin the verifier does not know', () => {
    expect(verifyReceipt(makeReceipt(1), () => undefined)).toMatchObject({ ok: false, error: expect.stringContaining('not a member') });
  });

  it.each([null, 'x', 42, {}, { format: 'jointban-receipt/v1' }])('rejects malformed input %j without throwing', (value) => {
    expect(verifyReceipt(value, keys).ok).toBe(false);
  });
});

describe('a receipt under a key history (PROTOCOL.md, "Key history")', () => {
  const rotated = generateEd25519KeyPair();
  const history = (validUntil: string) => (member: string) => (member === 'alpha' ? [{ publicKey: alpha.publicKey, validUntil }, { publicKey: rotated.publicKey }] : undefined);

  it('verifies with the retired key while its entry is dated before the key was retired', () => {
    expect(verifyReceipt(makeReceipt(2), history('2026-12-01T00:00:00.000Z'))).toMatchObject({ ok: true });
  });

  it('fails when the entry is dated at or after the validUntil of the key that signed the checkpoint', () => {
    expect(verifyReceipt(makeReceipt(2), history('2026-11-01T00:00:00.000Z'))).toMatchObject({ ok: false, error: expect.stringContaining('retired') });
  });

  it('fails when no key of the history signed it', () => {
    const none = (member: string) => (member === 'alpha' ? [{ publicKey: other.publicKey, validUntil: '2030-01-01T00:00:00.000Z' }, { publicKey: rotated.publicKey }] : undefined);
    expect(verifyReceipt(makeReceipt(2), none).ok).toBe(false);
  });
});
