import { describe, expect, it } from 'vitest';
import { concatBytes, fromBase64, fromUtf8, toBase64, toHex, utf8 } from '../../../src/crypto/encoding.js';
import { ed25519Verify, generateEd25519KeyPair, sha256 } from '../../../src/crypto/index.js';
import {
  MAX_NOTE_SIGNATURES,
  cosignCheckpoint,
  cosignerKeyId,
  cosignerVerifierKey,
  keyId,
  openCheckpoint,
  parseNote,
  parseVerifierKey,
  signCheckpoint,
  signNote,
  verifierKey,
  verifyCosignature,
  verifyCosignatures,
  verifyNote,
} from '../../../src/log/index.js';
import { b64, goVectors } from './go-vectors.js';

const goKey = { name: goVectors.noteName, publicKey: b64(goVectors.publicKey) };

function mutations(note: string): string[] {
  const bytes = utf8(note);
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i++) {
    for (const mask of [0x01, 0x20]) {
      const copy = Uint8Array.from(bytes);
      copy[i] = (copy[i] as number) ^ mask;
      try {
        out.push(fromUtf8(copy));
      } catch {
        // Invalid UTF-8 is rejected before a note is ever parsed.
      }
    }
  }
  return out;
}

describe('Go sumdb/note vector (test/vectors/c2sp-tlog-go.json)', () => {
  it('computes the key ID and the verifier key', () => {
    expect(toHex(keyId(goKey.name, goKey.publicKey))).toBe(goVectors.keyId);
    expect(verifierKey(goKey.name, goKey.publicKey)).toBe(goVectors.verifierKey);
  });

  it('parses the verifier key', () => {
    const parsed = parseVerifierKey(goVectors.verifierKey);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed).toMatchObject({ name: goKey.name, type: 'ed25519' });
    expect(toBase64(parsed.publicKey)).toBe(goVectors.publicKey);
    expect(toHex(parsed.keyId)).toBe(goVectors.keyId);
  });

  it('verifies the checkpoint note', () => {
    const result = verifyNote(goVectors.checkpoint, [goKey]);
    expect(result).toEqual({ ok: true, text: goVectors.checkpoint.split('\n\n')[0] + '\n', verifiedBy: [goKey.name] });
  });

  it('opens the checkpoint: origin, size 13 and the RFC 9162 root', () => {
    const opened = openCheckpoint(goVectors.checkpoint, goKey);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.checkpoint.origin).toBe(goKey.name);
    expect(opened.checkpoint.size).toBe(13);
    expect(toBase64(opened.checkpoint.root)).toBe(goVectors.treeHeads[12]?.root);
    expect(opened.checkpoint.note).toBe(goVectors.checkpoint);
  });

  it('rejects the note after any changed byte of body or signature', () => {
    const all = mutations(goVectors.checkpoint);
    expect(all.length).toBeGreaterThan(200);
    for (const bad of all) {
      expect(verifyNote(bad, [goKey]).ok).toBe(false);
      expect(openCheckpoint(bad, goKey).ok).toBe(false);
    }
  });

  it('rejects the note under another key or another name', () => {
    const other = generateEd25519KeyPair();
    expect(verifyNote(goVectors.checkpoint, [{ name: goKey.name, publicKey: other.publicKey }])).toEqual({
      ok: false,
      error: 'note has no signature by a known key',
    });
    expect(verifyNote(goVectors.checkpoint, [{ name: 'other.example/log', publicKey: goKey.publicKey }]).ok).toBe(false);
  });
});

describe('our own notes', () => {
  const a = { name: 'jointban.example/alpha', ...generateEd25519KeyPair() };
  const b = { name: 'jointban.example/beta', ...generateEd25519KeyPair() };
  const text = 'hello\n\nworld\n';

  it('round-trips with one and with several signers', () => {
    const note = signNote(text, [a, b]);
    expect(verifyNote(note, [a])).toEqual({ ok: true, text, verifiedBy: [a.name] });
    expect(verifyNote(note, [a, b])).toEqual({ ok: true, text, verifiedBy: [a.name, b.name] });
    const parsed = parseNote(note);
    expect(parsed.ok && parsed.signatures.map((s) => s.name)).toEqual([a.name, b.name]);
  });

  it('ignores unknown keys, including a known name with another key ID', () => {
    const impostor = { name: a.name, ...generateEd25519KeyPair() };
    const note = signNote(text, [impostor, a]);
    expect(verifyNote(note, [a])).toEqual({ ok: true, text, verifiedBy: [a.name] });
    expect(verifyNote(signNote(text, [impostor]), [a]).ok).toBe(false);
  });

  it('rejects the whole note when a known key signature fails', () => {
    const forgedLine = signNote('other\n', [b]).slice('other\n'.length + 1);
    const note = signNote(text, [a]) + forgedLine;
    expect(verifyNote(note, [a])).toEqual({ ok: true, text, verifiedBy: [a.name] });
    expect(verifyNote(note, [a, b])).toEqual({ ok: false, error: `signature by ${b.name} does not verify` });
  });

  it('refuses to sign malformed text or names', () => {
    expect(() => signNote('no newline', [a])).toThrow(TypeError);
    expect(() => signNote('tab\there\n', [a])).toThrow(TypeError);
    expect(() => signNote(text, [{ ...a, name: 'a b' }])).toThrow(TypeError);
    expect(() => signNote(text, [])).toThrow(TypeError);
  });

  it('parses verifier keys whose base64 contains a plus', () => {
    let withPlus = 0;
    for (let i = 0; i < 100 && withPlus < 3; i++) {
      const k = generateEd25519KeyPair();
      const vkey = verifierKey(a.name, k.publicKey);
      if (vkey.split('+').length <= 3) continue;
      withPlus++;
      const parsed = parseVerifierKey(vkey);
      expect(parsed.ok && toHex(parsed.publicKey)).toBe(toHex(k.publicKey));
    }
    expect(withPlus).toBe(3);
  });

  it('makes and parses cosigner verifier keys (type 0x04)', () => {
    const vkey = cosignerVerifierKey(b.name, b.publicKey);
    const parsed = parseVerifierKey(vkey);
    expect(parsed.ok && parsed.type).toBe('cosignature/v1');
    expect(parsed.ok && toHex(parsed.keyId)).toBe(toHex(cosignerKeyId(b.name, b.publicKey)));
  });
});

describe('parseNote rejects malformed notes', () => {
  const k = { name: 'jointban.example/alpha', ...generateEd25519KeyPair() };
  const good = signNote('body\n', [k]);
  const [, sigLine] = good.split('\n\n') as [string, string];
  const sigB64 = sigLine.slice(sigLine.lastIndexOf(' ') + 1, -1);

  it.each([
    ['missing blank line', `body\n${sigLine}`],
    ['no trailing newline', good.slice(0, -1)],
    ['no signatures', 'body\n\n'],
    ['bad base64', `body\n\n— ${k.name} ${sigB64.slice(1)}\n`],
    ['non-canonical base64', `body\n\n— ${k.name} ${sigB64.replace(/=$/, '')}\n`],
    ['signature too short', `body\n\n— ${k.name} ${toBase64(new Uint8Array(4))}\n`],
    ['hyphen instead of em dash', `body\n\n- ${k.name} ${sigB64}\n`],
    ['en dash instead of em dash', `body\n\n\u2013 ${k.name} ${sigB64}\n`],
    ['no space after the dash', `body\n\n—${k.name} ${sigB64}\n`],
    ['key name with a plus', `body\n\n— a+b ${sigB64}\n`],
    ['missing key name', `body\n\n— ${sigB64}\n`],
    ['two spaces', `body\n\n— ${k.name}  ${sigB64}\n`],
    ['carriage return', good.replace('body\n', 'body\r\n')],
    ['NUL in text', good.replace('body', 'bo\u0000dy')],
    ['lone surrogate', good.replace('body', 'bo\ud800dy')],
    ['too many signatures', `body\n\n${`— ${k.name} ${sigB64}\n`.repeat(MAX_NOTE_SIGNATURES + 1)}`],
    ['over 1 MiB', `${'x'.repeat(1024 * 1024)}\n\n${sigLine}`],
  ])('%s', (_name, note) => {
    expect(parseNote(note).ok).toBe(false);
    expect(verifyNote(note, [k]).ok).toBe(false);
  });

  it('accepts the maximum number of signatures', () => {
    expect(parseNote(`body\n\n${`— ${k.name} ${sigB64}\n`.repeat(MAX_NOTE_SIGNATURES)}`).ok).toBe(true);
  });

  it('rejects non-string input without throwing', () => {
    expect(parseNote(42 as unknown as string).ok).toBe(false);
    expect(parseVerifierKey(null as unknown as string).ok).toBe(false);
  });

  it.each([
    ['two parts', 'name+AbrD'],
    ['upper-case key ID', goVectors.verifierKey.replace(goVectors.keyId, goVectors.keyId.toUpperCase())],
    ['wrong key ID', goVectors.verifierKey.replace(goVectors.keyId, '00000000')],
    ['unknown type', `${goKey.name}+${goVectors.keyId}+${toBase64(concatBytes(new Uint8Array([2]), goKey.publicKey))}`],
    ['short key', `${goKey.name}+${goVectors.keyId}+${toBase64(new Uint8Array([1, 2, 3]))}`],
  ])('parseVerifierKey rejects %s', (_name, text) => {
    expect(parseVerifierKey(text).ok).toBe(false);
  });
});

describe('cosignatures (C2SP tlog-cosignature)', () => {
  const log = { name: 'jointban.example/alpha', ...generateEd25519KeyPair() };
  const witness = { name: 'jointban.example/association', ...generateEd25519KeyPair() };
  const root = sha256(utf8('root'));
  const note = signCheckpoint({ origin: log.name, size: 42, root }, log);
  const time = 1_700_000_000;

  it('round-trips and keeps the log signature valid', () => {
    const cosigned = note + cosignCheckpoint(note, witness, time);
    expect(verifyCosignature(cosigned, witness)).toEqual({ ok: true, timestamp: time });
    expect(openCheckpoint(cosigned, log).ok).toBe(true);
    expect(verifyCosignatures(cosigned, [witness, log])).toEqual({ ok: true, cosignatures: [{ name: witness.name, timestamp: time }] });
  });

  it('has the C2SP byte layout: key ID ‖ u64 time ‖ Ed25519 over the cosignature/v1 message', () => {
    const line = cosignCheckpoint(note, witness, time);
    expect(line.startsWith(`— ${witness.name} `)).toBe(true);
    const raw = fromBase64(line.slice(line.lastIndexOf(' ') + 1, -1)) as Uint8Array;
    expect(raw.length).toBe(4 + 8 + 64);
    const expectedId = sha256(concatBytes(utf8(witness.name), new Uint8Array([0x0a, 0x04]), witness.publicKey)).slice(0, 4);
    expect(toHex(raw.slice(0, 4))).toBe(toHex(expectedId));
    expect(new DataView(raw.buffer, 4, 8).getBigUint64(0)).toBe(BigInt(time));
    const body = note.split('\n\n')[0] + '\n';
    expect(ed25519Verify(witness.publicKey, utf8(`cosignature/v1\ntime ${time}\n${body}`), raw.slice(12))).toBe(true);
  });

  it('is not an ordinary note signature, and a note signature is not a cosignature', () => {
    const cosigned = note + cosignCheckpoint(note, witness, time);
    expect(verifyNote(cosigned, [witness]).ok).toBe(false);
    expect(verifyCosignature(note, log)).toEqual({ ok: false, error: `note has no cosignature by ${log.name}` });
  });

  it('rejects a changed time, body or signature', () => {
    const line = cosignCheckpoint(note, witness, time);
    const raw = fromBase64(line.slice(line.lastIndexOf(' ') + 1, -1)) as Uint8Array;
    for (const i of [4, 11, 12, 40, 75]) {
      const bad = Uint8Array.from(raw);
      bad[i] = (bad[i] as number) ^ 0x01;
      const tampered = `${note}— ${witness.name} ${toBase64(bad)}\n`;
      expect(verifyCosignature(tampered, witness).ok).toBe(false);
    }
    const otherBody = signCheckpoint({ origin: log.name, size: 43, root }, log);
    expect(verifyCosignature(otherBody + line, witness)).toEqual({ ok: false, error: `cosignature by ${witness.name} does not verify` });
  });

  it('refuses to cosign what is not a checkpoint note', () => {
    expect(() => cosignCheckpoint(signNote('hello\n', [log]), witness, time)).toThrow(TypeError);
    expect(() => cosignCheckpoint(note, witness, -1)).toThrow(TypeError);
  });
});
