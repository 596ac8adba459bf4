import { describe, expect, it } from 'vitest';
import { toBase64, utf8 } from '../../../src/crypto/encoding.js';
import { generateEd25519KeyPair, sha256 } from '../../../src/crypto/index.js';
import { EMPTY_ROOT, formatCheckpoint, logOrigin, memberOfOrigin, openCheckpoint, parseCheckpoint, signCheckpoint, signNote } from '../../../src/log/index.js';
import { b64, goVectors } from './go-vectors.js';

const root = sha256(utf8('root'));
const rootB64 = toBase64(root);

describe('checkpoint body (C2SP tlog-checkpoint)', () => {
  it('formats exactly like Go for the vector checkpoint', () => {
    const body = formatCheckpoint({ origin: goVectors.noteName, size: 13, root: b64(goVectors.treeHeads[12]?.root as string) });
    expect(goVectors.checkpoint.startsWith(`${body}\n— `)).toBe(true);
  });

  it('round-trips, including the empty tree and extension lines', () => {
    for (const cp of [
      { origin: 'jointban.example/alpha', size: 0, root: EMPTY_ROOT, extensions: [] },
      { origin: 'jointban.example/alpha', size: Number.MAX_SAFE_INTEGER, root, extensions: ['ext one', 'two'] },
    ]) {
      const parsed = parseCheckpoint(formatCheckpoint(cp));
      expect(parsed).toEqual({ ok: true, checkpoint: cp });
    }
  });

  it.each([
    ['no trailing newline', `o\n1\n${rootB64}`],
    ['two lines', `o\n1\n`],
    ['empty origin', `\n1\n${rootB64}\n`],
    ['origin with a trailing space', `o \n1\n${rootB64}\n`],
    ['origin with a leading tab', `\to\n1\n${rootB64}\n`],
    ['leading zero', `o\n01\n${rootB64}\n`],
    ['plus sign', `o\n+1\n${rootB64}\n`],
    ['negative size', `o\n-1\n${rootB64}\n`],
    ['size beyond 2^53', `o\n9007199254740993\n${rootB64}\n`],
    ['hex size', `o\n0x10\n${rootB64}\n`],
    ['31-byte root', `o\n1\n${toBase64(root.slice(1))}\n`],
    ['unpadded root', `o\n1\n${rootB64.replace(/=$/, '')}\n`],
    ['empty extension line', `o\n1\n${rootB64}\n\n`],
    ['too many extension lines', `o\n1\n${rootB64}\n${'x\n'.repeat(17)}`],
  ])('parse rejects %s', (_name, text) => {
    expect(parseCheckpoint(text).ok).toBe(false);
  });

  it('refuses to format invalid fields', () => {
    expect(() => formatCheckpoint({ origin: 'a b', size: 1, root })).toThrow(TypeError);
    expect(() => formatCheckpoint({ origin: 'o', size: -1, root })).toThrow(TypeError);
    expect(() => formatCheckpoint({ origin: 'o', size: 1, root: root.slice(1) })).toThrow(TypeError);
    expect(() => formatCheckpoint({ origin: 'o', size: 1, root, extensions: ['a\nb'] })).toThrow(TypeError);
  });
});

describe('signed checkpoints', () => {
  const origin = logOrigin('jointban.example', 'alpha');
  const key = { name: origin, ...generateEd25519KeyPair() };

  it('signs and opens', () => {
    const note = signCheckpoint({ origin, size: 7, root }, key);
    const opened = openCheckpoint(note, key);
    expect(opened).toEqual({ ok: true, checkpoint: { origin, size: 7, root, extensions: [], note } });
  });

  it('rejects a checkpoint whose origin is not the key name', () => {
    const note = signCheckpoint({ origin: 'jointban.example/beta', size: 7, root }, key);
    expect(openCheckpoint(note, key)).toEqual({ ok: false, error: 'checkpoint origin does not match the key name' });
  });

  it('rejects a signed note that is not a checkpoint', () => {
    expect(openCheckpoint(signNote(`${origin}\nseven\n${rootB64}\n`, [key]), key).ok).toBe(false);
  });
});

describe('log origins', () => {
  it('are <federation>/<member>', () => {
    expect(logOrigin('jointban.example', 'alpha')).toBe('jointban.example/alpha');
    expect(memberOfOrigin('jointban.example/alpha', 'jointban.example')).toBe('alpha');
    expect(memberOfOrigin('other.example/alpha', 'jointban.example')).toBeUndefined();
    expect(memberOfOrigin('jointban.example/Alpha', 'jointban.example')).toBeUndefined();
    expect(memberOfOrigin('jointban.example/alpha/x', 'jointban.example')).toBeUndefined();
    expect(() => logOrigin('jointban example', 'alpha')).toThrow(TypeError);
    expect(() => logOrigin('jointban.example', 'A')).toThrow(TypeError);
  });
});
