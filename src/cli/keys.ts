/**
 * `jointban keys rotate|finish`: a node's side of a signing key rotation (docs/OPERATIONS.md,
 * "Key rotation"; the steps are federation/key-rotation.ts).
 *
 * Neither runs on the association's node: its key is the federation's trust root, pinned in every
 * node's config, and changes through the trust-root procedure (docs/OPERATIONS.md, "The
 * association's key"), not through a roster the association would no longer be able to sign.
 */
import type { Command } from 'commander';
import type { NodeConfig } from '../config/load.js';
import { toBase64, toHex } from '../crypto/encoding.js';
import { AppError } from '../errors.js';
import { finishKeyRotation, startKeyRotation } from '../federation/key-rotation.js';
import { baseContext, configWithoutSecrets, openContext, printJson } from './options.js';

const ASSOCIATION_REFUSED =
  "this is the association's node: its key is the federation's trust root and changes through the trust-root procedure (docs/OPERATIONS.md, \"The association's key\"), not keys rotate/finish";

function memberConfig(dataDir: string): NodeConfig {
  const config = configWithoutSecrets(dataDir);
  if (config.role === 'association') throw new AppError('invalid_input', ASSOCIATION_REFUSED);
  return config;
}

function keysRotate(opts: { dataDir: string }): void {
  const config = memberConfig(opts.dataDir);
  const { file, next, previous } = startKeyRotation(config.signingKeyFile, baseContext(config).identity());
  printJson({
    member: config.member,
    file,
    publicKey: toHex(next.publicKey),
    publicKeyBase64: toBase64(next.publicKey),
    previousPublicKey: toHex(previous.publicKey),
    note: `send publicKey to the association: jointban roster rotate-key --id ${config.member} --public-key <publicKey> --at <time>`,
  });
}

async function keysFinish(opts: { dataDir: string }): Promise<void> {
  const config = memberConfig(opts.dataDir);
  const base = baseContext(config);
  const old = base.identity();
  /** The roster the node holds, from its database opened read-only; none without a database. */
  const heldRoster = async () => {
    // A missing SQLite file means the node holds no roster; an unreachable PostgreSQL says why itself.
    const context = await openContext(config, { open: { readonly: true } }).catch((err: unknown) => {
      if (config.database.driver === 'postgres') throw err;
      return undefined;
    });
    if (context === undefined) throw new AppError('conflict', `no database at ${config.databaseFile}: the node holds no roster that lists the key in ${config.signingKeyFile}.next`);
    try {
      return await context.heldRoster();
    } finally {
      await context.close();
    }
  };
  const { key, retiredFile } = await finishKeyRotation({ member: config.member, keyFile: config.signingKeyFile, current: old, heldRoster, now: base.now() });
  printJson({ member: config.member, file: config.signingKeyFile, publicKey: toHex(key.publicKey), retiredFile, retiredPublicKey: toHex(old.publicKey) });
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
