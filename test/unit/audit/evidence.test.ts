/**
 * Evidence digests against test/vectors/evidence.json (computed independently with node:crypto),
 * plus the properties the format promises: order and names do not matter, content does.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evidenceDigest, evidenceManifest, hashChunks, isEvidenceDigest } from '../../../src/audit/evidence.js';

interface VectorFile {
  contentBase64?: string;
  generate?: { bytes: number; byte: string };
}
interface EvidenceVector {
  comment: string;
  tags: string[];
  files: VectorFile[];
  fileSha256: string[];
  manifest: string;
  digest: string;
}
const vectors = JSON.parse(readFileSync(new URL('../../vectors/evidence.json', import.meta.url), 'utf8')) as { format: string; cases: EvidenceVector[] };

function contentOf(f: VectorFile): Uint8Array {
  if (f.contentBase64 !== undefined) return new Uint8Array(Buffer.from(f.contentBase64, 'base64'));
  if (f.generate?.byte !== 'i mod 251') throw new Error('unknown generator');
  const out = new Uint8Array(f.generate.bytes);
  for (let i = 0; i < out.length; i++) out[i] = i % 251;
  return out;
}

/** Feeds the bytes in uneven chunks, as a file stream would. */
async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe('vectors (test/vectors/evidence.json)', () => {
  it('holds at least the documented cases', () => {
    expect(vectors.format).toBe('jointban-evidence/v1');
    expect(vectors.cases.length).toBeGreaterThanOrEqual(6);
  });

  it.each(vectors.cases)('$comment', async (v) => {
    const hashed = await Promise.all(v.files.map((f) => hashChunks(chunks(contentOf(f), 65_521))));
    expect(hashed.map((h) => h.sha256)).toEqual(v.fileSha256);
    expect(hashed.map((h) => h.bytes)).toEqual(v.files.map((f) => contentOf(f).length));
    expect(evidenceManifest(v.fileSha256)).toBe(v.manifest);
    expect(evidenceDigest(v.fileSha256)).toBe(v.digest);
    expect(isEvidenceDigest(v.digest)).toBe(true);
  });
});

describe('what the digest depends on', () => {
  const [a, b, c] = vectors.cases[2]!.fileSha256 as [string, string, string];

  it('not the order of the files', () => {
    expect(evidenceDigest([c, a, b])).toBe(evidenceDigest([a, b, c]));
  });

  it('every file: leaving one out or adding a copy changes it', () => {
    expect(evidenceDigest([a, b])).not.toBe(evidenceDigest([a, b, c]));
    expect(evidenceDigest([a, b, c, c])).not.toBe(evidenceDigest([a, b, c]));
  });

  it('every byte of a file', async () => {
    const one = await hashChunks(chunks(new TextEncoder().encode('hello\n'), 3));
    const other = await hashChunks(chunks(new TextEncoder().encode('hello!'), 3));
    expect(evidenceDigest([one.sha256])).not.toBe(evidenceDigest([other.sha256]));
  });

  it('the chunking of a stream does not change a file hash', async () => {
    const bytes = contentOf(vectors.cases[5]!.files[0]!);
    const whole = await hashChunks(chunks(bytes, bytes.length));
    const small = await hashChunks(chunks(bytes, 1000));
    expect(small).toEqual(whole);
    expect(whole.sha256).toBe(vectors.cases[5]!.fileSha256[0]);
  });
});

describe('rejected input', () => {
  it('no file at all', () => {
    expect(() => evidenceDigest([])).toThrow(RangeError);
  });

  it.each([
    ['upper-case hex', 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855'],
    ['too short', 'e3b0c442'],
    ['a digest instead of a file hash', 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ])('a file hash that is %s', (_name, hash) => {
    expect(() => evidenceDigest([hash])).toThrow(TypeError);
  });

  it.each(['sha256:E3B0', 'sha512:' + '0'.repeat(64), '0'.repeat(64), 42])('isEvidenceDigest(%s) is false', (value) => {
    expect(isEvidenceDigest(value)).toBe(false);
  });
});
