/**
 * Which of its held keys a node signs with during a rotation (src/federation/signing-keys.ts): the
 * newest key the roster makes valid at the time in question, picked up from `<key file>.next`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { toBase64, toHex } from '../../../src/crypto/encoding.js';
import { generateEd25519KeyPair } from '../../../src/crypto/index.js';
import { nextKeyFile, SigningKeys } from '../../../src/federation/signing-keys.js';
import type { Roster } from '../../../src/roster/index.js';
import { writeFileAtomic } from '../../../src/durable-file.js';

const old = generateEd25519KeyPair();
const next = generateEd25519KeyPair();
const JOINED = '2025-01-01T00:00:00.000Z';
const FROM = '2025-06-01T00:00:00.000Z';
const UNTIL = '2025-06-08T00:00:00.000Z';
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function roster(): Roster {
  return {
    federation: 'jointban.example',
    version: 2,
    issuedAt: JOINED,
    members: [
      {
        id: 'alpha',
        name: 'Alpha',
        role: 'association',
        publicKey: toBase64(next.publicKey),
        keyValidFrom: FROM,
        previousKeys: [{ publicKey: toBase64(old.publicKey), validFrom: JOINED, validUntil: UNTIL }],
        endpoint: 'https://alpha.example',
        status: 'active',
        since: JOINED,
      },
    ],
  };
}

function keysWith(nextFile: boolean): SigningKeys {
  const dir = mkdtempSync(join(tmpdir(), 'jointban-signing-keys-'));
  dirs.push(dir);
  const file = join(dir, 'node.key');
  if (nextFile) writeFileAtomic(nextKeyFile(file), `${toHex(next.secretKey)}\n`);
  return new SigningKeys(file, old, pino({ level: 'silent' }));
}

const pub = (k: { publicKey: Uint8Array } | undefined) => (k === undefined ? 'none' : toBase64(k.publicKey));

describe('the key a node signs with', () => {
  it('is the key file without a roster', () => {
    expect(pub(keysWith(true).at(undefined, 'alpha', FROM))).toBe(pub(old));
  });

  it('is the old key before the new one starts, the new key from its keyValidFrom', () => {
    const keys = keysWith(true);
    expect(pub(keys.at(roster(), 'alpha', '2025-05-31T23:59:59.999Z'))).toBe(pub(old));
    expect(pub(keys.at(roster(), 'alpha', FROM))).toBe(pub(next));
    expect(pub(keys.at(roster(), 'alpha', undefined))).toBe(pub(next));
  });

  it('picks up the .next file only when reloaded', () => {
    const keys = keysWith(false);
    expect(pub(keys.at(roster(), 'alpha', FROM))).toBe(pub(old));
    const file = dirs.at(-1)!;
    writeFileAtomic(nextKeyFile(join(file, 'node.key')), `${toHex(next.secretKey)}\n`);
    keys.reload();
    expect(pub(keys.at(roster(), 'alpha', FROM))).toBe(pub(next));
  });

  it('is none for a checkpoint when the roster lists none of the held keys as valid, the key file for requests', () => {
    const keys = keysWith(false);
    expect(keys.at(roster(), 'alpha', UNTIL)).toBeUndefined();
    expect(pub(keys.now(roster(), 'alpha', UNTIL))).toBe(pub(old));
  });
});
