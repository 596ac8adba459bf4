/**
 * `jointban keys rotate|finish`: a node's side of a signing key rotation (docs/OPERATIONS.md,
 * "Key rotation"). `rotate` writes a new key next to the key file, as `<key file>.next`; the node
 * (running or not) starts signing with it once the roster it holds lists it as valid
 * (src/federation/signing-keys.ts). `finish` makes the new key the key file and keeps the old one
 * as `<key file>.retired-<time>`, only once the roster the node holds makes the new key valid now:
 * earlier, the node would be left with no key its peers accept.
 *
 * Neither runs on the association's node: its key is the federation's trust root, pinned in every
 * node's config, and changes through the trust-root procedure (docs/OPERATIONS.md, "The
 * association's key"), not through a roster the association would no longer be able to sign.
 */
import { existsSync, renameSync } from 'node:fs';
import type { Command } from 'commander';
import type { NodeConfig } from '../config/load.js';
import { bytesEqual, toBase64, toHex } from '../crypto/encoding.js';
import { generateEd25519KeyPair } from '../crypto/index.js';
import { AppError } from '../errors.js';
import { nextKeyFile, readNextKey } from '../federation/signing-keys.js';
import { fsyncDirectory, writeFileAtomic } from '../durable-file.js';
import { findMember, keyValidAt, memberKeys, type Roster } from '../roster/index.js';
import { dirname } from 'node:path';
import { baseContext, configWithoutSecrets, openContext, printJson } from './options.js';

const ASSOCIATION_REFUSED =
  "this is the association's node: its key is the federation's trust root and changes through the trust-root procedure (docs/OPERATIONS.md, \"The association's key\"), not keys rotate/finish";

function memberConfig(dataDir: string): NodeConfig {
  const config = configWithoutSecrets(dataDir);
  if (config.role === 'association') throw new AppError('invalid_input', ASSOCIATION_REFUSED);
  return config;
}

/** Refuses unless the roster the node holds lists `publicKey` for the member, valid now. */
async function assertValidNow(config: NodeConfig, publicKey: Uint8Array, file: string): Promise<void> {
  const context = await openContext(config, { open: { readonly: true } }).catch(() => undefined);
  if (context === undefined) throw new AppError('conflict', `no database at ${config.databaseFile}: the node holds no roster that lists the key in ${file}`);
  let roster: Roster | undefined;
  try {
    roster = await context.heldRoster();
  } finally {
    await context.close();
  }
  const now = new Date().toISOString();
  const key = memberKeys(roster ? findMember(roster, config.member) : undefined).find((k) => bytesEqual(k.publicKey, publicKey));
  if (roster === undefined || key === undefined || !keyValidAt(key, now)) {
    const why =
      roster === undefined
        ? 'the node holds no roster'
        : key === undefined
          ? `the roster it holds (version ${roster.version}) does not list it`
          : `the roster it holds (version ${roster.version}) makes it valid ${key.validFrom !== undefined && Date.parse(now) < Date.parse(key.validFrom) ? `from ${key.validFrom}` : `only until ${key.validUntil ?? '?'}`}`;
    throw new AppError('conflict', `the key in ${file} is not valid now: ${why}; finish once the association's roster lists it (roster rotate-key, roster sign) and the node has fetched it`);
  }
}

function keysRotate(opts: { dataDir: string }): void {
  const config = memberConfig(opts.dataDir);
  const current = baseContext(config).identity();
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

async function keysFinish(opts: { dataDir: string }): Promise<void> {
  const config = memberConfig(opts.dataDir);
  const file = config.signingKeyFile;
  const next = nextKeyFile(file);
  if (!existsSync(next)) throw new AppError('not_found', `${next} does not exist: no rotation is under way`);
  const old = baseContext(config).identity();
  const pair = readNextKey(file);
  await assertValidNow(config, pair.publicKey, next);
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
    .description('once the roster this node holds makes the next key valid: make it the key file, keeping the old one as <key file>.retired-<time>')
    .requiredOption('--data-dir <dir>', "the node's data directory")
    .action(keysFinish);
}
