/**
 * `jointban keys rotate|finish`: a node's side of a signing key rotation (docs/OPERATIONS.md,
 * "Key rotation"). `rotate` writes a new key next to the key file, as `<key file>.next`; the node
 * (running or not) starts signing with it once the roster it holds lists it as valid
 * (src/federation/signing-keys.ts). `finish`, after the association has retired the old key,
 * makes the new key the key file and keeps the old one as `<key file>.retired-<time>`.
 */
import { existsSync, renameSync } from 'node:fs';
import type { Command } from 'commander';
import { toBase64, toHex } from '../crypto/encoding.js';
import { generateEd25519KeyPair } from '../crypto/index.js';
import { AppError } from '../errors.js';
import { nextKeyFile } from '../federation/signing-keys.js';
import { fsyncDirectory, writeFileAtomic } from '../store/backup.js';
import { readKeyFile } from '../store/key-file.js';
import { dirname } from 'node:path';
import { configFor, printJson } from './options.js';

function keysRotate(opts: { dataDir: string }): void {
  const config = configFor(opts.dataDir);
  const current = readKeyFile(config.signingKeyFile);
  const next = nextKeyFile(config.signingKeyFile);
  if (existsSync(next)) {
    throw new AppError('conflict', `${next} already exists: a rotation is under way (run jointban keys finish once the old key is retired)`);
  }
  const pair = generateEd25519KeyPair();
  // Written whole or not at all, mode 0600 from the start: a node reading it mid-write sees nothing.
  writeFileAtomic(next, `${toHex(pair.secretKey)}\n`, 0o600);
  printJson({
    member: config.member,
    file: next,
    publicKey: toHex(pair.publicKey),
    publicKeyBase64: toBase64(pair.publicKey),
    previousPublicKey: toHex(current.publicKey),
    note: `send publicKey to the association: jointban roster rotate-key --id ${config.member} --public-key <publicKey> --at <time>`,
  });
}

function keysFinish(opts: { dataDir: string }): void {
  const config = configFor(opts.dataDir);
  const file = config.signingKeyFile;
  const next = nextKeyFile(file);
  if (!existsSync(next)) throw new AppError('not_found', `${next} does not exist: no rotation is under way`);
  const old = readKeyFile(file);
  const pair = readKeyFile(next);
  const retired = `${file}.retired-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(file, retired);
  renameSync(next, file);
  fsyncDirectory(dirname(file));
  printJson({ member: config.member, file, publicKey: toHex(pair.publicKey), retiredFile: retired, retiredPublicKey: toHex(old.publicKey) });
}

export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description("rotate this node's signing key");
  keys
    .command('rotate')
    .description('generate the next signing key next to the key file (<key file>.next) and print its public key for the association')
    .requiredOption('--data-dir <dir>', "the node's data directory")
    .action(keysRotate);
  keys
    .command('finish')
    .description('after the association retired the old key: make the next key the key file, keeping the old one as <key file>.retired-<time>')
    .requiredOption('--data-dir <dir>', "the node's data directory")
    .action(keysFinish);
}
