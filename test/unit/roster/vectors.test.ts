import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toBase64, toHex } from '../../../src/crypto/encoding.js';
import { ed25519PublicKey } from '../../../src/crypto/index.js';
import { keyId } from '../../../src/log/note.js';
import {
  entryAllowed,
  findMember,
  keyValidAt,
  memberKeys,
  requestKeys,
  formatRosterText,
  openRoster,
  parseTrustRoot,
  rosterKeyName,
  signRoster,
  trustRootVerifierKey,
  type Roster,
} from '../../../src/roster/index.js';

interface NoteVector {
  comment: string;
  valid: boolean;
  tags: string[];
  note: string;
}

interface ValidVector extends NoteVector {
  roster: Roster;
  text: string;
}

interface VectorFile {
  comment: string;
  federation: string;
  trustRoot: { seedHex: string; publicKeyHex: string; keyName: string; keyIdHex: string; verifierKey: string };
  valid: ValidVector[];
  invalid: NoteVector[];
  entries: { comment: string; origin: string; time: string; expected: 'ok' | 'unknown_member' | 'suspended' }[];
  checkpointKeys: {
    cases: { comment: string; publicKey: string; lastEntryTime: string | null; expected: 'valid' | 'invalid' }[];
    requestKeysAt: { comment: string; time: string; keys: string[] }[];
  };
}

const vectors = JSON.parse(readFileSync(new URL('../../vectors/roster.json', import.meta.url), 'utf8')) as VectorFile;

function hex(text: string): Uint8Array {
  const bytes = fromHex(text);
  if (bytes === undefined) throw new Error('bad hex in vector file');
  return bytes;
}

const seed = hex(vectors.trustRoot.seedHex);
const publicKey = hex(vectors.trustRoot.publicKeyHex);
const trustRoot = { name: vectors.trustRoot.keyName, publicKey };

describe('roster vectors (test/vectors/roster.json): the trust root', () => {
  it('derives the key name, key ID and verifier key', () => {
    expect(toHex(ed25519PublicKey(seed))).toBe(vectors.trustRoot.publicKeyHex);
    expect(rosterKeyName(vectors.federation)).toBe(vectors.trustRoot.keyName);
    expect(toHex(keyId(vectors.trustRoot.keyName, publicKey))).toBe(vectors.trustRoot.keyIdHex);
    expect(trustRootVerifierKey(vectors.federation, publicKey)).toBe(vectors.trustRoot.verifierKey);
  });

  it('parses the verifier key', () => {
    expect(parseTrustRoot(vectors.trustRoot.verifierKey, vectors.federation)).toEqual({
      ok: true,
      trustRoot: { federation: vectors.federation, ...trustRoot },
    });
  });
});

describe('roster vectors: valid notes', () => {
  for (const v of vectors.valid) {
    it(v.comment, () => {
      expect(v.valid).toBe(true);
      expect(formatRosterText(v.roster)).toBe(v.text);
      expect(signRoster(v.roster, seed)).toBe(v.note);
      expect(openRoster(v.note, trustRoot)).toEqual({ ok: true, roster: v.roster });
    });
  }
});

describe('roster vectors: invalid notes', () => {
  for (const v of vectors.invalid) {
    it(`${v.comment} [${v.tags.join(', ')}]`, () => {
      expect(v.valid).toBe(false);
      expect(openRoster(v.note, trustRoot).ok).toBe(false);
    });
  }
});

describe('roster vectors: entries and suspensions', () => {
  const latest = vectors.valid.at(-1)?.roster;
  for (const e of vectors.entries) {
    it(e.comment, () => {
      if (!latest) throw new Error('no roster in the vector file');
      const result = entryAllowed(latest, e.origin, e.time);
      expect(result.ok ? 'ok' : result.reason).toBe(e.expected);
    });
  }
});

describe('roster vectors: key history (checkpoint periods and request keys)', () => {
  const latest = vectors.valid.at(-1)?.roster;
  if (!latest) throw new Error('no roster in the vector file');
  const keys = memberKeys(findMember(latest, 'alpha'));
  for (const c of vectors.checkpointKeys.cases) {
    it(c.comment, () => {
      const key = keys.find((k) => toBase64(k.publicKey) === c.publicKey);
      expect(key).toBeDefined();
      expect(keyValidAt(key!, c.lastEntryTime ?? undefined) ? 'valid' : 'invalid').toBe(c.expected);
    });
  }
  for (const c of vectors.checkpointKeys.requestKeysAt) {
    it(`request keys: ${c.comment}`, () => {
      expect(requestKeys(latest, 'alpha', c.time).map(toBase64)).toEqual(c.keys);
      expect(c.keys.every((k) => fromBase64(k)?.length === 32)).toBe(true);
    });
  }
});
