/**
 * The node's Ed25519 signing key on disk: the 32-byte RFC 8032 seed as hex on one line, in a file
 * only the node's user can read (mode 0600). A key file readable by others is refused at start.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ed25519PublicKey, type Ed25519KeyPair } from '../crypto/index.js';
import { fromHex, toHex } from '../crypto/encoding.js';
import { AppError } from '../errors.js';

export function writeKeyFile(file: string, keyPair: Ed25519KeyPair): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${toHex(keyPair.secretKey)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

/**
 * Refuses a config file that holds an epoch secret and that users other than the node's can read,
 * as a key file is refused: the secret lets its holder enumerate tokens offline (docs/SECURITY.md).
 */
export function assertConfigFilePrivate(file: string, holdsSecret: boolean): void {
  if (!holdsSecret) return;
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    throw new AppError('invalid_input', `cannot read config ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if ((mode & 0o077) !== 0) {
    throw new AppError('invalid_input', `config ${file} holds an epoch secret and is readable by other users: run chmod 600 on it, or move the secret to the environment (secretEnv)`);
  }
}

export function readKeyFile(file: string): Ed25519KeyPair {
  let text: string;
  try {
    if ((statSync(file).mode & 0o077) !== 0) {
      throw new AppError('invalid_input', `key file ${file} is readable by other users: run chmod 600 on it`);
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('invalid_input', `cannot read key file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const secretKey = fromHex(text.trim());
  if (!secretKey || secretKey.length !== 32) throw new AppError('invalid_input', `key file ${file}: expected 64 hex characters (an Ed25519 seed)`);
  return { secretKey, publicKey: ed25519PublicKey(secretKey) };
}

/**
 * A shared secret on disk (the webhook signing secret): the file's text, trimmed, used as UTF-8
 * bytes. Refused when readable by other users or shorter than 32 characters; never echoed.
 */
export function readSecretFile(file: string, what: string): Uint8Array {
  let text: string;
  try {
    if ((statSync(file).mode & 0o077) !== 0) throw new AppError('invalid_input', `${what} ${file} is readable by other users: run chmod 600 on it`);
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('invalid_input', `cannot read ${what} ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (text.length < 32) throw new AppError('invalid_input', `${what} ${file}: must hold at least 32 characters`);
  return new TextEncoder().encode(text);
}
