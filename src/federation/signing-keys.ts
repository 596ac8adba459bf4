/**
 * The node's own signing keys during a key rotation (docs/PROTOCOL.md, "Key history";
 * docs/OPERATIONS.md, "Key rotation"). The node holds its key file and, once `jointban keys rotate`
 * has written it, the `.next` file beside it. For each signature it picks, among the keys it holds,
 * the one the roster it holds makes valid at the time that matters (a checkpoint's last entry, or
 * now for requests and cosignatures), the newest such key first: so the node switches to its new
 * key as soon as the roster lists it as valid, without a restart.
 *
 * Without a roster (a node that has not joined yet) it signs with its key file. When the roster
 * lists none of the held keys as valid then, it signs no checkpoint at all: a signature peers
 * refuse would only get its log marked `bad_signature` and, stored, make `jointban verify` fail on
 * this node for good. It says so once per roster version in the log; the checkpoint signer reports
 * it on the federation status. Requests still go out signed with the key file: peers refuse them,
 * which changes nothing.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { bytesEqual } from '../crypto/encoding.js';
import type { Ed25519KeyPair } from '../crypto/index.js';
import { findMember, keyValidAt, memberKeys, type Roster } from '../roster/index.js';
import { readKeyFile } from '../store/key-file.js';

/** Where `jointban keys rotate` writes the new key of a node whose key file is `file`. */
export function nextKeyFile(file: string): string {
  return `${file}.next`;
}

/** The next key beside the key file `file`; refused as an unreadable key file is (store/key-file.ts). */
export function readNextKey(file: string): Ed25519KeyPair {
  return readKeyFile(nextKeyFile(file));
}

export class SigningKeys {
  private held: Ed25519KeyPair[];
  private readonly warned = new Set<number>();

  constructor(
    private readonly file: string,
    primary: Ed25519KeyPair,
    private readonly logger: Logger,
  ) {
    this.held = [primary];
    this.reload();
  }

  /** Reads the `.next` key if it appeared (called when a new roster arrives). Never throws. */
  reload(): void {
    const next = nextKeyFile(this.file);
    if (!existsSync(next)) return;
    try {
      const pair = readKeyFile(next);
      if (!this.held.some((k) => bytesEqual(k.publicKey, pair.publicKey))) this.held.push(pair);
    } catch (err) {
      this.logger.error({ file: next, err: (err as Error).message }, 'cannot read the next signing key');
    }
  }

  /** The key file's pair. */
  get primary(): Ed25519KeyPair {
    return this.held[0] as Ed25519KeyPair;
  }

  /**
   * The key pair to sign a checkpoint with for `time` (an ISO time; undefined for an empty log), or
   * undefined when the roster makes none of the held keys valid then.
   */
  at(roster: Roster | undefined, member: string, time: string | undefined): Ed25519KeyPair | undefined {
    if (roster === undefined) return this.primary;
    const listed = memberKeys(findMember(roster, member));
    for (const key of [...listed].reverse()) {
      if (!keyValidAt(key, time)) continue;
      const pair = this.held.find((k) => bytesEqual(k.publicKey, key.publicKey));
      if (pair) return pair;
    }
    // Once per roster version, not per signature: the set stays as small as the roster history.
    if (!this.warned.has(roster.version)) {
      this.warned.add(roster.version);
      this.logger.error(
        { member, rosterVersion: roster.version, time },
        'the roster lists none of this node\'s keys as valid: no checkpoint is signed until it does (docs/OPERATIONS.md, "Node signing keys")',
      );
    }
    return undefined;
  }

  /** The key to sign a request or a cosignature with now: the valid one, else the key file. */
  now(roster: Roster | undefined, member: string, time: string): Ed25519KeyPair {
    return this.at(roster, member, time) ?? this.primary;
  }
}
