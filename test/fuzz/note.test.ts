/**
 * Fuzzing signed notes, checkpoints and witness cosignatures (src/log/note.ts, checkpoint.ts,
 * cosignature.ts; C2SP signed-note, tlog-checkpoint, tlog-cosignature).
 *
 * - Round trips: what `signNote` / `signCheckpoint` / `cosignCheckpoint` write, `parseNote`,
 *   `verifyNote`, `openCheckpoint` and `verifyCosignature` read back, field for field.
 * - Single-byte mutations: a note is signed, so every changed byte must make verification fail.
 *   The bytes are decoded as a peer's would be (invalid UTF-8 becomes U+FFFD). For a cosigned
 *   checkpoint the acceptance test is "the checkpoint opens with the log key AND the witness
 *   cosignature verifies": a changed byte in either signature line, or in the text, breaks one.
 *   Every position of Go's checkpoint vector and of a cosigned checkpoint is tried; then random
 *   notes at random positions.
 * - Garbage: random text never makes the parsers throw.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, utf8 } from '../../src/crypto/encoding.js';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from '../../src/log/checkpoint.js';
import { cosignCheckpoint, verifyCosignature, verifyCosignatures } from '../../src/log/cosignature.js';
import { parseNote, signNote, verifyNote, type NoteVerifier } from '../../src/log/note.js';
import { KEYS } from './arbitraries.js';
import { fuzz, mutationOf, samplePool, singleByteMutations } from './fuzz-config.js';

const goVector = JSON.parse(readFileSync(new URL('../vectors/c2sp-tlog-go.json', import.meta.url), 'utf8')) as { checkpoint: string; noteName: string; publicKey: string };

/** The note as a peer would read the mutated bytes off the wire. */
const asText = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

const keyName = fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9./_:-]{0,40}$/);
/** Note text: 1-5 lines of printable text (any script), possibly blank lines, ending in a newline. */
const noteLine = fc.oneof(fc.stringMatching(/^[ -~]{0,60}$/), fc.constantFrom('', '演出行业协会', 'Ünïcödé — “quoted”', 'tab\u00a0nbsp'));
const noteText = fc
  .array(noteLine, { minLength: 1, maxLength: 5 })
  .map((lines) => `${lines.join('\n')}\n`)
  .filter((t) => t !== '\n');
const signers = fc.uniqueArray(fc.record({ name: keyName, key: fc.nat(KEYS.length - 1) }), { minLength: 1, maxLength: 3, selector: (s) => s.key });

const root = fc.uint8Array({ minLength: 32, maxLength: 32 });
const checkpoint = fc.record({
  origin: fc.oneof(fc.stringMatching(/^[a-z0-9.-]{1,40}\/[a-z][a-z0-9-]{1,31}$/), keyName),
  size: fc.oneof(fc.nat(1_000), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
  root,
  extensions: fc.array(fc.stringMatching(/^[ -~]{1,30}$/), { maxLength: 3 }),
});

/** Signed objects per mutation property: each is mutated at many random positions. */
const POOL = 24;

const WITNESS_NAME = 'jointban.example/witness';
const witnessKey = KEYS[0]!;
const logKey = KEYS[1]!;
const witness: NoteVerifier = { name: WITNESS_NAME, publicKey: witnessKey.publicKey };
const COSIGN_TIME = 1_750_000_000;

function cosigned(cp: fc.Arbitrary<{ origin: string; size: number; root: Uint8Array; extensions: string[] }> = checkpoint) {
  return cp.map((c) => {
    const note = signCheckpoint(c, { name: c.origin, secretKey: logKey.secretKey });
    return { origin: c.origin, note: note + cosignCheckpoint(note, { name: WITNESS_NAME, secretKey: witnessKey.secretKey }, COSIGN_TIME) };
  });
}

/** A cosigned checkpoint is acted on only if both its signature and the cosignature verify. */
function accepted(note: string, origin: string): boolean {
  return openCheckpoint(note, { name: origin, publicKey: logKey.publicKey }).ok && verifyCosignature(note, witness).ok;
}

describe('signed notes', () => {
  it('note.roundtrip: parse and verify give back the text and every signer', () => {
    fuzz(
      'note.roundtrip',
      fc.property(noteText, signers, (text, who) => {
        const keyed = who.map((s) => ({ name: s.name, ...KEYS[s.key]! }));
        const note = signNote(text, keyed);
        const parsed = parseNote(note);
        if (!parsed.ok) throw new Error(parsed.error);
        expect(parsed.text).toBe(text);
        expect(parsed.signatures.map((s) => s.name)).toEqual(keyed.map((k) => k.name));
        const verified = verifyNote(
          note,
          keyed.map((k) => ({ name: k.name, publicKey: k.publicKey })),
        );
        if (!verified.ok) throw new Error(verified.error);
        expect(new Set(verified.verifiedBy)).toEqual(new Set(keyed.map((k) => k.name)));
        // A verifier that knows none of the keys accepts nothing.
        expect(verifyNote(note, [{ name: 'stranger', publicKey: KEYS[KEYS.length - 1]!.publicKey }]).ok).toBe(false);
      }),
    );
  });

  it('note.mutation: any changed byte of a signed note fails verification', () => {
    const notes = samplePool(
      'note.mutation',
      fc.tuple(noteText, keyName, fc.nat(KEYS.length - 1)).map(([text, name, key]) => ({
        bytes: utf8(signNote(text, [{ name, secretKey: KEYS[key]!.secretKey }])),
        verifier: { name, publicKey: KEYS[key]!.publicKey },
      })),
      POOL,
    );
    fuzz(
      'note.mutation',
      fc.property(
        fc.nat(POOL - 1).chain((i) => mutationOf(notes[i]!.bytes).map((m) => ({ ...m, verifier: notes[i]!.verifier }))),
        ({ mutated, verifier }) => {
          expect(verifyNote(asText(mutated), [verifier]).ok).toBe(false);
        },
      ),
    );
  });

  it('note.garbage: the parsers never throw on any text', () => {
    const piece = fc.oneof(
      fc.constantFrom('\n', '\n\n', '— ', '—', ' ', '+', '=', 'AAAA', 'name', '\u0000', '\ud800', '\r', '\u2028'),
      fc.string({ maxLength: 12 }),
      fc.base64String({ maxLength: 100 }),
    );
    fuzz(
      'note.garbage',
      fc.property(
        fc.array(piece, { maxLength: 30 }).map((p) => p.join('')),
        (text) => {
          const parsed = parseNote(text);
          if (parsed.ok) expect(text.startsWith(parsed.text)).toBe(true);
          expect(verifyNote(text, [{ name: 'name', publicKey: logKey.publicKey }]).ok).toBe(false);
          expect(openCheckpoint(text, { name: 'name', publicKey: logKey.publicKey }).ok).toBe(false);
          expect(typeof verifyCosignatures(text, [witness]).ok).toBe('boolean');
          expect(typeof parseCheckpoint(text).ok).toBe('boolean');
        },
      ),
    );
  });
});

describe('checkpoints', () => {
  it('checkpoint.roundtrip: a signed checkpoint opens with its log key, field for field', () => {
    fuzz(
      'checkpoint.roundtrip',
      fc.property(checkpoint, (cp) => {
        const note = signCheckpoint(cp, { name: cp.origin, secretKey: logKey.secretKey });
        const opened = openCheckpoint(note, { name: cp.origin, publicKey: logKey.publicKey });
        if (!opened.ok) throw new Error(opened.error);
        expect(opened.checkpoint).toMatchObject({ origin: cp.origin, size: cp.size, root: cp.root, extensions: cp.extensions, note });
        const text = formatCheckpoint(cp);
        const parsed = parseCheckpoint(text);
        if (!parsed.ok) throw new Error(parsed.error);
        expect(formatCheckpoint(parsed.checkpoint)).toBe(text);
        // The log key under another name vouches for nothing (a member's key, another member's log).
        expect(openCheckpoint(note, { name: `${cp.origin}x`, publicKey: logKey.publicKey }).ok).toBe(false);
      }),
    );
  });

  it('every single-byte change of Go’s signed checkpoint vector is rejected', () => {
    const verifier = { name: goVector.noteName, publicKey: fromBase64(goVector.publicKey)! };
    expect(openCheckpoint(goVector.checkpoint, verifier).ok).toBe(true);
    let cases = 0;
    for (const { mutated } of singleByteMutations(utf8(goVector.checkpoint), 1)) {
      expect(openCheckpoint(asText(mutated), verifier).ok).toBe(false);
      cases++;
    }
    console.log(`fuzz checkpoint.exhaustive: ${cases} single-byte mutations of Go's checkpoint vector`);
  });

  it('checkpoint.mutation: any changed byte of a random signed checkpoint is rejected', () => {
    const notes = samplePool(
      'checkpoint.mutation',
      checkpoint.map((cp) => ({ origin: cp.origin, bytes: utf8(signCheckpoint(cp, { name: cp.origin, secretKey: logKey.secretKey })) })),
      POOL,
    );
    fuzz(
      'checkpoint.mutation',
      fc.property(
        fc.nat(POOL - 1).chain((i) => mutationOf(notes[i]!.bytes).map((m) => ({ ...m, origin: notes[i]!.origin }))),
        ({ mutated, origin }) => {
          expect(openCheckpoint(asText(mutated), { name: origin, publicKey: logKey.publicKey }).ok).toBe(false);
        },
      ),
    );
  });
});

describe('witness cosignatures', () => {
  it('every single-byte change of a cosigned checkpoint breaks the checkpoint or its cosignature', () => {
    const [sample] = fc.sample(cosigned(checkpoint.map((c) => ({ ...c, size: 42, extensions: [] }))), { numRuns: 1, seed: 7 });
    const { note, origin } = sample!;
    expect(accepted(note, origin)).toBe(true);
    expect(verifyCosignature(note, witness)).toEqual({ ok: true, timestamp: COSIGN_TIME });
    let cases = 0;
    for (const { mutated } of singleByteMutations(utf8(note), 1)) {
      expect(accepted(asText(mutated), origin)).toBe(false);
      cases++;
    }
    console.log(`fuzz cosignature.exhaustive: ${cases} single-byte mutations of a cosigned checkpoint`);
  });

  it('cosignature.mutation: a random changed byte of a random cosigned checkpoint', () => {
    const notes = samplePool('cosignature.mutation', cosigned(), POOL);
    fuzz(
      'cosignature.mutation',
      fc.property(
        fc.nat(POOL - 1).chain((i) => mutationOf(utf8(notes[i]!.note)).map((m) => ({ ...m, origin: notes[i]!.origin }))),
        ({ mutated, origin }) => {
          expect(accepted(asText(mutated), origin)).toBe(false);
        },
      ),
    );
  });
});
