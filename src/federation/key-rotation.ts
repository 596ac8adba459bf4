/**
 * A node's side of a signing key rotation (docs/OPERATIONS.md, "Key rotation"): `startKeyRotation`
 * writes a new key next to the key file, as `<key file>.next`; the node (running or not) starts
 * signing with it once the roster it holds lists it as valid (signing-keys.ts).
 * `finishKeyRotation` makes the new key the key file and keeps the old one as
 * `<key file>.retired-<time>`, only once the roster the node holds makes the new key valid now:
 * earlier, the node would be left with no key its peers accept. `jointban keys rotate|finish`
 * parse, call these and print.
 */
import { existsSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { bytesEqual, toHex } from '../crypto/encoding.js';
import { type Ed25519KeyPair, generateEd25519KeyPair } from '../crypto/index.js';
import { fsyncDirectory, writeFileAtomic } from '../durable-file.js';
import { AppError } from '../errors.js';
import { findMember, keyValidAt, memberKeys, type Roster } from '../roster/index.js';
import { nextKeyFile, readNextKey } from './signing-keys.js';

export interface StartedRotation {
  file: string;
  next: Ed25519KeyPair;
  previous: Ed25519KeyPair;
}

/** Writes `<key file>.next`; refused while a rotation is under way. */
export function startKeyRotation(keyFile: string, current: Ed25519KeyPair): StartedRotation {
  const file = nextKeyFile(keyFile);
  if (existsSync(file)) {
    throw new AppError('conflict', `${file} already exists: a rotation is under way (run jointban keys finish once the old key is retired)`);
  }
  const next = generateEd25519KeyPair();
  // Written whole or not at all, mode 0600 from the start: a node reading it mid-write sees nothing.
  writeFileAtomic(file, `${toHex(next.secretKey)}\n`, 0o600);
  return { file, next, previous: current };
}

export interface FinishedRotation {
  key: Ed25519KeyPair;
  retiredFile: string;
}

export interface FinishRotationInput {
  member: string;
  keyFile: string;
  current: Ed25519KeyPair;
  /** The roster the node holds, read only once a rotation is found under way (undefined: none). */
  heldRoster: () => Promise<Roster | undefined>;
  now: Date;
}

/** Makes the next key the key file, once the roster the node holds makes it valid at `now`. */
export async function finishKeyRotation(input: FinishRotationInput): Promise<FinishedRotation> {
  const { keyFile, now } = input;
  const next = nextKeyFile(keyFile);
  if (!existsSync(next)) throw new AppError('not_found', `${next} does not exist: no rotation is under way`);
  const pair = readNextKey(keyFile);
  assertValidNow(input.member, await input.heldRoster(), pair.publicKey, next, now.toISOString());
  const retiredFile = `${keyFile}.retired-${now.toISOString().replace(/[:.]/g, '-')}`;
  renameSync(keyFile, retiredFile);
  renameSync(next, keyFile);
  fsyncDirectory(dirname(keyFile));
  return { key: pair, retiredFile };
}

/** Refuses unless `roster` lists `publicKey` for the member, valid at `now`. */
function assertValidNow(member: string, roster: Roster | undefined, publicKey: Uint8Array, file: string, now: string): void {
  const key = memberKeys(roster ? findMember(roster, member) : undefined).find((k) => bytesEqual(k.publicKey, publicKey));
  if (roster !== undefined && key !== undefined && keyValidAt(key, now)) return;
  const why =
    roster === undefined
      ? 'the node holds no roster'
      : key === undefined
        ? `the roster it holds (version ${roster.version}) does not list it`
        : `the roster it holds (version ${roster.version}) makes it valid ${key.validFrom !== undefined && Date.parse(now) < Date.parse(key.validFrom) ? `from ${key.validFrom}` : `only until ${key.validUntil ?? '?'}`}`;
  throw new AppError('conflict', `the key in ${file} is not valid now: ${why}; finish once the association's roster lists it (roster rotate-key, roster sign) and the node has fetched it`);
}
