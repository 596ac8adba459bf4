/**
 * What `jointban restore` decides about a backup besides verifying its logs (docs/OPERATIONS.md,
 * "Restore"): which keys may have signed its manifest, and where the manifest, the verified logs
 * and the node's key files disagree. Pure: the command reads the files and the roster, and prints.
 */
import { bytesEqual } from '../crypto/encoding.js';
import { findMember, keyValidAt, memberKeys, type Roster } from '../roster/index.js';
import type { OriginVerification } from './verify-report.js';

export interface ManifestKeys {
  publicKeys: Uint8Array[];
  /** Says whose keys they are, for the line the command prints. */
  whose: string;
}

/**
 * The keys the manifest must verify with: those the roster in the backup (itself verified against
 * the data directory's trust root) lists for the member, valid when the manifest says the backup
 * was made; without a roster, the node's own key file and its next key.
 */
export function manifestKeys(options: { roster: Roster | undefined; member: string; createdAt: string; keyFile: string; ownKeys: readonly Uint8Array[] }): ManifestKeys {
  const { roster, member, createdAt } = options;
  if (roster === undefined) return { publicKeys: [...options.ownKeys], whose: `the key in ${options.keyFile} (the backup holds no roster)` };
  return {
    publicKeys: memberKeys(findMember(roster, member))
      .filter((k) => keyValidAt(k, createdAt))
      .map((k) => k.publicKey),
    whose: `a key roster version ${roster.version} lists for ${member} at ${createdAt}`,
  };
}

export interface RestoreKeyFiles {
  keyFile: string;
  own: Uint8Array;
  /** The public key of `<key file>.next`, when a rotation is under way. */
  next: Uint8Array | undefined;
}

/** Differences between the logs the manifest lists and those that verified, and a key the roster does not hold. */
export function restoreProblems(options: {
  manifestLogs: readonly { origin: string; size: number }[];
  results: readonly OriginVerification[];
  roster: Roster | undefined;
  member: string;
  keys: RestoreKeyFiles;
  now: Date;
}): string[] {
  const { manifestLogs, results, roster, member, keys } = options;
  const problems: string[] = [];
  const held = new Map(results.map((r) => [r.origin, r]));
  for (const log of manifestLogs) {
    const r = held.get(log.origin);
    if (r === undefined) problems.push(`the manifest lists ${log.origin}'s log with ${log.size} entries; the database holds none`);
    else if (r.ok && r.entries !== log.size) problems.push(`the manifest lists ${log.origin}'s log with ${log.size} entries; the database holds ${r.entries}`);
  }
  for (const r of results) {
    if (!manifestLogs.some((l) => l.origin === r.origin)) problems.push(`the database holds a log of ${r.origin} that the manifest does not list`);
  }
  const rosterKeys = roster ? memberKeys(findMember(roster, member)) : [];
  const listed = rosterKeys.find((k) => bytesEqual(k.publicKey, keys.own));
  if (rosterKeys.length > 0 && listed === undefined) {
    problems.push(`${keys.keyFile} is not the key the roster holds for ${member}: restore the node's own keys/ too`);
  } else if (listed !== undefined && listed.validUntil !== undefined && Date.parse(listed.validUntil) <= options.now.getTime()) {
    // During a rotation the key file may hold the old key, as long as the roster has not retired it
    // or the new key is there beside it: a node left with a retired key only cannot sign.
    const now = options.now.toISOString();
    if (!rosterKeys.some((k) => keys.next !== undefined && bytesEqual(k.publicKey, keys.next) && keyValidAt(k, now))) {
      problems.push(`${keys.keyFile} holds a key the roster retired at ${listed.validUntil}: restore keys/ as it was after the rotation (node.key.next, or node.key once keys finish ran)`);
    }
  }
  return problems;
}
